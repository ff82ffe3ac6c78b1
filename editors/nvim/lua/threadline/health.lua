-- :checkhealth threadline

local M = {}

local health = vim.health or require("health")
local h_start = health.start or health.report_start
local h_ok = health.ok or health.report_ok
local h_warn = health.warn or health.report_warn
local h_error = health.error or health.report_error

function M.check()
  local tl = require("threadline")
  h_start("threadline")
  if vim.fn.has("nvim-0.7") == 1 then
    h_ok("Neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor))
  else
    h_error("Neovim 0.7 or newer is needed")
  end
  local cmd = tl.config.cmd
  if type(cmd) ~= "table" or #cmd == 0 then
    h_error("`cmd` is not a list", { "require('threadline').setup{cmd = {'threadline', 'serve'}}" })
  elseif vim.fn.executable(cmd[1]) == 1 then
    h_ok("server command: " .. table.concat(cmd, " ") .. " (" .. vim.fn.exepath(cmd[1]) .. ")")
  else
    h_error("server command not found: " .. cmd[1],
      { "install Threadline (in a checkout: pipx install .), or set cmd in require('threadline').setup{}" })
  end
  local client = tl.client()
  if not client then
    h_warn("the server is not running yet (it starts on the first :Threadline command)")
    return
  end
  local info = client.server_capabilities and client.server_capabilities.experimental
  local threadline = info and info.threadline
  if threadline then
    h_ok(string.format("server running, protocol %s, agents: %s", tostring(threadline.protocolVersion),
      table.concat(threadline.agents or {}, ", ")))
    if #(threadline.agents or {}) == 0 then
      h_warn("the server found no agent command (is `claude` on PATH?)")
    end
  else
    h_warn("the server is starting")
  end
end

return M
