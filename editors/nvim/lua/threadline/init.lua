-- Threadline for Neovim: one `threadline serve` per Neovim, over Neovim's own LSP client.
--
-- This module owns the connection: it starts the server on first use, queues requests until
-- the server has answered `initialize`, and fans the server's notifications out to the list
-- and transcript buffers (lua/threadline/list.lua, lua/threadline/transcript.lua).

local M = {}

M.config = {
  cmd = { "threadline", "serve" },
  -- initializationOptions of the protocol (claudeConfigDir, agents, cacheDir, watch).
  init_options = nil,
  -- vim.notify when a session starts waiting for input.
  notify_waiting = true,
}

local state = {
  client_id = nil,
  ready = false,
  queue = {}, -- requests sent before `initialize` was answered
  listeners = {}, -- key -> function(method, params)
  statuses = {}, -- sessionId -> last status seen (for the waiting-for-input message)
}

--- Whether a decoded JSON value is present (JSON null arrives as vim.NIL).
function M.present(value)
  return value ~= nil and value ~= vim.NIL
end

function M.notify(message, level)
  vim.notify("Threadline: " .. message, level or vim.log.levels.INFO)
end

--- The current project: the working directory, as a real path (as the agent records it).
function M.project()
  return (vim.uv or vim.loop).fs_realpath(vim.fn.getcwd()) or vim.fn.getcwd()
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
  require("threadline.commands").define()
end

--- Register `fn(method, params)` for server notifications under `key` (nil removes it).
function M.listen(key, fn)
  state.listeners[key] = fn
end

local function dispatch(method, params)
  local session = params and params.session
  if session and M.config.notify_waiting then
    local before = state.statuses[session.sessionId]
    if session.status == "waiting_for_input" and before ~= nil and before ~= "waiting_for_input" then
      M.notify(string.format("%s is waiting for input (%s)", session.title, session.sessionId:sub(1, 8)),
        vim.log.levels.WARN)
    end
    state.statuses[session.sessionId] = session.status
  end
  for _, fn in pairs(state.listeners) do
    local ok, err = pcall(fn, method, params)
    if not ok then
      M.notify("a view failed to update: " .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

--- Remember the statuses of sessions seen in a result, so a later change to waiting is noticed.
function M.seen(sessions)
  for _, session in ipairs(sessions) do
    if state.statuses[session.sessionId] == nil then
      state.statuses[session.sessionId] = session.status
    end
  end
end

local function handler(method)
  return function(_, params)
    dispatch(method, params)
  end
end

local function client_request(client, method, params, cb)
  local function on_result(err, result)
    cb(err, result)
  end
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, on_result, 0)
  end
  return client.request(method, params, on_result, 0)
end

local function flush()
  local client = vim.lsp.get_client_by_id(state.client_id)
  local queued = state.queue
  state.queue = {}
  for _, item in ipairs(queued) do
    client_request(client, item[1], item[2], item[3])
  end
end

--- Start the server unless it runs; false (after one clear message) when it cannot start.
function M.start()
  -- Not vim.lsp.client_is_stopped: before 0.8 it calls a client that is still initializing
  -- stopped, which would start a second server. on_exit clears client_id.
  if state.client_id then
    return true
  end
  local cmd = M.config.cmd
  if type(cmd) ~= "table" or #cmd == 0 then
    M.notify("`cmd` must be a list such as {'threadline', 'serve'}.", vim.log.levels.ERROR)
    return false
  end
  if vim.fn.executable(cmd[1]) ~= 1 then
    M.notify(string.format("the server command '%s' was not found; install Threadline "
      .. "or set cmd in require('threadline').setup{}.", cmd[1]), vim.log.levels.ERROR)
    return false
  end
  local root = M.project()
  state.ready = false
  local config = {
    name = "threadline",
    cmd = cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") } },
    init_options = M.config.init_options,
    handlers = {
      ["session/detected"] = handler("session/detected"),
      ["session/updated"] = handler("session/updated"),
      ["session/removed"] = handler("session/removed"),
    },
    on_init = function()
      state.ready = true
      vim.schedule(flush)
    end,
    on_exit = function(code, _, client_id)
      if client_id ~= state.client_id then
        return
      end
      state.client_id, state.ready, state.queue = nil, false, {}
      if code ~= 0 then
        vim.schedule(function()
          M.notify(string.format("the server exited with code %d; see :LspLog.", code), vim.log.levels.ERROR)
        end)
      end
    end,
  }
  if vim.fn.has("nvim-0.11") == 1 then
    -- start_client is deprecated from 0.11; start() without attaching to a buffer replaces it.
    state.client_id = vim.lsp.start(config, { attach = false })
  else
    state.client_id = vim.lsp.start_client(config)
  end
  if not state.client_id then
    M.notify("the server did not start; see :LspLog.", vim.log.levels.ERROR)
    return false
  end
  return true
end

--- Send a request once the server is ready; `cb(err, result)` runs on the main loop.
function M.request(method, params, cb)
  if not M.start() then
    return false
  end
  local function done(err, result)
    if err then
      cb(err, nil)
    else
      cb(nil, result)
    end
  end
  if state.ready then
    client_request(vim.lsp.get_client_by_id(state.client_id), method, params, done)
  else
    table.insert(state.queue, { method, params, done })
  end
  return true
end

--- Like request, but an error becomes one message and `cb` only sees results.
function M.call(method, params, cb)
  return M.request(method, params, function(err, result)
    if err then
      M.notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
    elseif cb then
      cb(result)
    end
  end)
end

--- The running client, or nil (for :checkhealth).
function M.client()
  return state.client_id and vim.lsp.get_client_by_id(state.client_id) or nil
end

--- Resolve an id or a unique prefix of one, among the sessions of `cwd`; `cb(id)`.
function M.resolve(prefix, cwd, cb)
  prefix = vim.trim(prefix or "")
  if prefix == "" then
    M.notify("give a session id (or a unique prefix of one).", vim.log.levels.ERROR)
    return
  end
  if #prefix >= 32 then -- a whole id (UUIDs have 36 characters): the server judges it
    return cb(prefix)
  end
  M.call("session/list", { cwd = cwd, limit = 1000 }, function(result)
    local found = {}
    for _, session in ipairs(result.sessions) do
      if vim.startswith(session.sessionId, prefix) then
        table.insert(found, session.sessionId)
      end
    end
    if #found == 1 then
      cb(found[1])
    elseif #found == 0 then
      M.notify(string.format("no session of %s has an id starting with '%s'.", cwd, prefix), vim.log.levels.ERROR)
    else
      M.notify(string.format("'%s' is ambiguous: %d sessions start with it.", prefix, #found), vim.log.levels.ERROR)
    end
  end)
end

--- Tell the open views about a session a request returned (a start shows its row at once).
function M.announce(session)
  dispatch("threadline/session", { session = session })
end

function M.list(cwd)
  require("threadline.list").open(cwd or M.project())
end

function M.open(id)
  M.resolve(id, M.project(), function(full)
    require("threadline.transcript").open(full)
  end)
end

function M.start_workflow(prompt, cwd)
  if vim.trim(prompt or "") == "" then
    M.notify("give a prompt: :ThreadlineStart {prompt}", vim.log.levels.ERROR)
    return
  end
  M.call("workflow/start", { cwd = cwd or M.project(), prompt = prompt }, function(result)
    M.announce(result.session)
    M.notify("started " .. result.sessionId)
    require("threadline.transcript").open(result.sessionId, result.session)
  end)
end

--- Resume (or, with fork, branch off) session `id` (a prefix will do) with `prompt`.
function M.resume(id, prompt, fork)
  if vim.trim(prompt or "") == "" then
    M.notify("give a prompt to continue the session with.", vim.log.levels.ERROR)
    return
  end
  M.resolve(id, M.project(), function(full)
    M.call("session/resume", { sessionId = full, prompt = prompt, fork = fork or false }, function(result)
      M.announce(result.session)
      M.notify((fork and "forked into " or "resumed ") .. result.sessionId)
      require("threadline.transcript").open(result.sessionId, result.session)
    end)
  end)
end

function M.activate(id, cwd)
  M.call("session/activate", { cwd = cwd, sessionId = id }, function(result)
    dispatch("threadline/active", { cwd = cwd, activeSessionId = result.activeSessionId })
  end)
end

function M.cancel(id)
  M.call("workflow/cancel", { sessionId = id }, function(result)
    M.announce(result.session)
    M.notify("cancelled " .. id:sub(1, 8))
  end)
end

return M
