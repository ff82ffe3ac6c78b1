-- A Neovim (0.7+) client of `threadline serve`, through Neovim's own LSP client, as a user's
-- config would do it. Run headless by tests/editors/test_editors.py:
--
--   nvim --headless -u NONE -i NONE -n -c "luafile threadline.lua"
--
-- Environment: THREADLINE_SERVER (JSON argv), THREADLINE_PROJECT (the project folder),
-- THREADLINE_OPTIONS (JSON initializationOptions), THREADLINE_OUT (a file for the JSON lines
-- this script reports), THREADLINE_PROMPT. Exits 0 when the scenario ran, 1 otherwise.

local out = assert(io.open(os.getenv("THREADLINE_OUT"), "a"))
local project = os.getenv("THREADLINE_PROJECT")
local TIMEOUT = 30000

local function report(step, value)
  out:write(vim.json.encode({ editor = "neovim", step = step, value = value }), "\n")
  out:flush()
end

local function fail(why)
  report("error", why)
  out:close()
  vim.cmd("cquit 1")
end

local notes = {}
local function on_note(method)
  return function(_, params)
    table.insert(notes, { method = method, params = params })
  end
end

local client_id = vim.lsp.start_client({
  name = "threadline",
  cmd = vim.json.decode(os.getenv("THREADLINE_SERVER")),
  root_dir = project,
  workspace_folders = { { uri = vim.uri_from_fname(project), name = "project" } },
  init_options = vim.json.decode(os.getenv("THREADLINE_OPTIONS")),
  handlers = {
    ["session/detected"] = on_note("session/detected"),
    ["session/updated"] = on_note("session/updated"),
  },
})
if not client_id then
  fail("the server did not start")
end
local client = vim.lsp.get_client_by_id(client_id)
if not vim.wait(TIMEOUT, function() return client.initialized end, 20) then
  fail("no answer to initialize")
end

-- One request, waited for: (err, result).
local function request(method, params)
  local done, err, result = false, nil, nil
  client.request(method, params, function(e, r)
    done, err, result = true, e, r
  end, 0)
  if not vim.wait(TIMEOUT, function() return done end, 10) then
    fail("no answer to " .. method)
  end
  return err, result
end

local function await_note(method, pred)
  local found
  local ok = vim.wait(TIMEOUT, function()
    for _, note in ipairs(notes) do
      if note.method == method and pred(note.params) then
        found = note.params
        return true
      end
    end
    return false
  end, 10)
  if not ok then
    fail("no " .. method)
  end
  return found
end

local err, listed = request("session/list", { cwd = project })
if err then fail("session/list: " .. vim.inspect(err)) end
report("list", listed)

local started
err, started = request("workflow/start", { cwd = project, prompt = os.getenv("THREADLINE_PROMPT") })
if err then fail("workflow/start: " .. vim.inspect(err)) end
report("start", started)
local id = started.sessionId

report("detected", await_note("session/detected", function(p) return p.session.sessionId == id end))
report("ended", await_note("session/updated", function(p)
  return p.session.sessionId == id and p.session.status ~= "running"
end))

local page
err, page = request("session/messages", { sessionId = id, limit = 50 })
if err then fail("session/messages: " .. vim.inspect(err)) end
report("messages", page)

err = request("session/get", { sessionId = "../../etc/passwd" })
report("bad-id", err and { code = err.code, message = err.message } or vim.NIL)

vim.lsp.stop_client(client_id)
vim.wait(5000, function() return vim.lsp.client_is_stopped(client_id) end, 20)
out:close()
vim.cmd("qall!")
