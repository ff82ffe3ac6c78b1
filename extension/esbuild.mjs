// Bundles the extension (Node, CommonJS) to dist/extension.js and the transcript
// webview script (browser IIFE) to media/transcript.js.
//   node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
    bundle: true,
    minify: production,
    sourcemap: production ? false : 'linked',
    sourcesContent: false,
    logLevel: 'info',
    absWorkingDir: root,
};

const builds = [
    {
        ...common,
        entryPoints: ['src/extension.ts'],
        outfile: 'dist/extension.js',
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: ['vscode'],
    },
    {
        ...common,
        entryPoints: ['src/webview/main.ts'],
        outfile: 'media/transcript.js',
        platform: 'browser',
        format: 'iife',
        target: 'es2022',
    },
];

// Start clean so a production build never ships a stale source map.
for (const stale of ['dist', 'media/transcript.js', 'media/transcript.js.map']) {
    fs.rmSync(path.join(root, stale), { recursive: true, force: true });
}

if (watch) {
    for (const options of builds) {
        const ctx = await esbuild.context(options);
        await ctx.watch();
    }
} else {
    await Promise.all(builds.map((options) => esbuild.build(options)));
}
