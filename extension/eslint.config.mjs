// ESLint flat config: @eslint/js + typescript-eslint recommended, type-aware for src/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
    {
        ignores: ['dist/**', 'out/**', 'media/transcript.js', 'node_modules/**', '.cache/**', 'e2e/screenshots/**', '*.vsix'],
    },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ['src/**/*.ts'],
        languageOptions: {
            parserOptions: { project: ['./tsconfig.json', './tsconfig.webview.json'], tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            curly: 'error',
            eqeqeq: ['error', 'always'],
            'no-restricted-properties': [
                'error',
                { property: 'innerHTML', message: 'Transcript data is hostile: build nodes with createElement/textContent.' },
                { property: 'outerHTML', message: 'Transcript data is hostile: build nodes with createElement/textContent.' },
            ],
            'no-restricted-syntax': [
                'error',
                { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'No HTML strings in the webview.' },
                { selector: "CallExpression[callee.property.name='write'][callee.object.name='document']", message: 'No document.write.' },
            ],
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
            '@typescript-eslint/no-floating-promises': 'error',
            '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
        },
    },
    {
        // node:test's test()/describe() return promises the runner awaits itself.
        files: ['src/test/**/*.ts'],
        rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
    {
        files: ['**/*.mjs', '**/*.js'],
        languageOptions: { globals: { ...globals.node }, sourceType: 'module' },
    },
);
