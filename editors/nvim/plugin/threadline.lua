-- Threadline commands. The server starts on the first command, not at Neovim's start.
if vim.g.loaded_threadline or vim.fn.has("nvim-0.7") ~= 1 then
  return
end
vim.g.loaded_threadline = true

local command = vim.api.nvim_create_user_command

command("Threadline", function(opts)
  require("threadline").list(opts.args ~= "" and opts.args or nil)
end, { nargs = "?", complete = "dir", desc = "Threadline: the sessions of this project" })

command("ThreadlineOpen", function(opts)
  require("threadline").open(opts.args)
end, { nargs = 1, desc = "Threadline: open a session's transcript (an id or a unique prefix)" })

command("ThreadlineStart", function(opts)
  require("threadline").start_workflow(opts.args)
end, { nargs = "+", desc = "Threadline: start a workflow with a prompt" })

command("ThreadlineResume", function(opts)
  local id, prompt = opts.args:match("^%s*(%S+)%s+(.-)%s*$")
  if not id then
    require("threadline").notify("usage: :ThreadlineResume {id} {prompt}", vim.log.levels.ERROR)
    return
  end
  require("threadline").resume(id, prompt, false)
end, { nargs = "+", desc = "Threadline: continue a session with a prompt" })
