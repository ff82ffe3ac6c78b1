-- The user commands. Defined by plugin/threadline.lua, and again (harmlessly) by setup(),
-- so a plugin manager that puts only lua/ in reach still gets them.

local M = {}

function M.define()
  local command = vim.api.nvim_create_user_command
  local tl = require("threadline")

  command("Threadline", function(opts)
    tl.list(opts.args ~= "" and opts.args or nil)
  end, { nargs = "?", complete = "dir", desc = "Threadline: the sessions of this project" })

  command("ThreadlineOpen", function(opts)
    tl.open(opts.args)
  end, { nargs = 1, desc = "Threadline: open a session's transcript (an id or a unique prefix)" })

  command("ThreadlineStart", function(opts)
    tl.start_workflow(opts.args)
  end, { nargs = "+", desc = "Threadline: start a workflow with a prompt" })

  command("ThreadlineResume", function(opts)
    local id, prompt = opts.args:match("^%s*(%S+)%s+(.-)%s*$")
    if not id then
      tl.notify("usage: :ThreadlineResume {id} {prompt}", vim.log.levels.ERROR)
      return
    end
    tl.resume(id, prompt, false)
  end, { nargs = "+", desc = "Threadline: continue a session with a prompt" })
end

return M
