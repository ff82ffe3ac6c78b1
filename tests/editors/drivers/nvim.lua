-- Drives the Neovim plugin (editors/nvim) as a user would, headless, and reports what its
-- buffers show as JSON lines; tests/editors/test_editors.py checks them. The user's init
-- (written by the test) has put the plugin on 'runtimepath' and called setup{}.
--
-- Environment: THREADLINE_TEST_OUT (the report file), THREADLINE_TEST_SCENARIO ("use",
-- "later" or "missing"), THREADLINE_TEST_PROMPT, THREADLINE_TEST_OPEN (a session id prefix to open).

local out = assert(io.open(os.getenv("THREADLINE_TEST_OUT"), "a"))
local TIMEOUT = 30000

local function report(step, value)
  out:write(vim.json.encode({ editor = "neovim", step = step, value = value }), "\n")
  out:flush()
end

local function fail(why)
  report("error", why .. "\n" .. vim.api.nvim_exec("messages", true))
  out:close()
  vim.cmd("cquit 1")
end

local function lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

local function has_line(bufnr, pred)
  for _, line in ipairs(lines(bufnr)) do
    if pred(line) then
      return line
    end
  end
  return nil
end

local function wait(what, pred)
  if not vim.wait(TIMEOUT, pred, 10) then
    fail("timed out waiting for " .. what)
  end
end

-- :ThreadlineStart, then the short id of the session once its transcript buffer shows.
local function start(prompt)
  vim.cmd("ThreadlineStart " .. prompt)
  wait("the transcript of " .. prompt, function()
    return vim.api.nvim_buf_get_name(0):find("threadline://session/", 1, true) ~= nil
      and lines(0)[1] == "# " .. prompt
  end)
  return vim.api.nvim_buf_get_name(0):match("threadline://session/(.+)$"):sub(1, 8)
end

-- What the server does not send yet (protocol.md §4: `streaming`, `session/removed`), fed
-- through the plugin's own LSP handlers as the client would receive it.
local function scenario_later()
  vim.cmd("Threadline")
  local list = vim.api.nvim_get_current_buf()
  wait("the session list", function()
    return has_line(list, function(l) return l:find("11111111", 1, true) end) ~= nil
  end)
  vim.cmd("ThreadlineOpen 11111111")
  wait("the transcript", function()
    return has_line(0, function(l) return l:find("^## assistant") end) ~= nil
  end)
  local transcript = vim.api.nvim_get_current_buf()
  local client = require("threadline").client()
  local session = nil
  client.request("session/get", { sessionId = "11111111-1111-4111-8111-111111111111" }, function(_, result)
    session = result.session
  end, 0)
  wait("session/get", function() return session ~= nil end)
  local ctx = { client_id = client.id, method = "session/updated" }
  session.status = "running"
  client.handlers["session/updated"](nil, { session = session, appended = {}, appendedFrom = vim.NIL,
    streaming = { text = "half a reply\nstill writing" } }, ctx)
  local streaming = lines(transcript)
  session.status = "completed"
  client.handlers["session/updated"](nil, { session = session, appended = {}, appendedFrom = vim.NIL,
    streaming = vim.NIL }, ctx)
  local after = lines(transcript)
  client.handlers["session/removed"](nil, { sessionId = session.sessionId },
    { client_id = client.id, method = "session/removed" })
  report("later", { streaming = streaming, after = after, removed = lines(transcript)[2], list = lines(list) })
end

local function scenario_missing()
  -- An error message inside a command is raised to vim.cmd's caller; a user sees it once.
  local errors = {}
  for _, cmd in ipairs({ "Threadline", "ThreadlineStart hello" }) do
    local ok, err = pcall(vim.cmd, cmd)
    table.insert(errors, ok and vim.NIL or tostring(err):gsub("^.-Vim:", ""))
  end
  report("errors", errors)
  report("messages", vim.api.nvim_exec("messages", true))
end

local function scenario_use()
  local prompt = os.getenv("THREADLINE_TEST_PROMPT")

  -- The list of the project's sessions.
  vim.cmd("Threadline")
  local list = vim.api.nvim_get_current_buf()
  wait("the session list", function()
    return #lines(list) > 2 and not has_line(list, function(l) return l:find("(loading…)", 1, true) end)
  end)
  report("list", { name = vim.api.nvim_buf_get_name(list), rows = vim.list_slice(lines(list), 3) })

  -- A transcript, opened by a unique id prefix; tool calls are folded.
  vim.cmd("ThreadlineOpen " .. os.getenv("THREADLINE_TEST_OPEN"))
  wait("the transcript buffer", function()
    return vim.api.nvim_get_current_buf() ~= list and has_line(0, function(l) return l:find("^## ") end) ~= nil
  end)
  local transcript = vim.api.nvim_get_current_buf()
  local folded = {}
  for lnum, line in ipairs(lines(transcript)) do
    if line:find("^▸ tool") then
      table.insert(folded, vim.fn.foldclosed(lnum) == lnum)
    end
  end
  report("transcript", {
    name = vim.api.nvim_buf_get_name(transcript),
    filetype = vim.bo[transcript].filetype,
    lines = lines(transcript),
    tool_lines_folded = folded,
  })

  -- Start a workflow from the list; record every state of the list buffer as it changes.
  vim.api.nvim_set_current_buf(list)
  local snapshots = {}
  vim.api.nvim_buf_attach(list, false, {
    on_lines = function()
      vim.schedule(function()
        table.insert(snapshots, lines(list))
      end)
    end,
  })
  vim.cmd("ThreadlineStart " .. prompt)
  wait("the new transcript buffer", function()
    return vim.api.nvim_buf_get_name(0):find("threadline://session/", 1, true) ~= nil
      and vim.api.nvim_get_current_buf() ~= transcript
  end)
  local started = vim.api.nvim_get_current_buf()
  local id = vim.api.nvim_buf_get_name(started):match("threadline://session/(.+)$")
  local short = id:sub(1, 8)
  wait("the new row to complete, and the reply in its transcript", function()
    return has_line(list, function(l) return l:find(short, 1, true) and l:find("completed", 1, true) end) ~= nil
      and has_line(started, function(l) return l:find("^## assistant") end) ~= nil
      and has_line(started, function(l) return l:find(" · completed · ", 1, true) end) ~= nil
  end)
  table.insert(snapshots, lines(list)) -- what shows now (a scheduled snapshot may still wait)
  local statuses = {}
  for _, snapshot in ipairs(snapshots) do
    for _, line in ipairs(snapshot) do
      if line:find(short, 1, true) then
        local status = line:match("^. %S+%s+(%S+)")
        if statuses[#statuses] ~= status then
          table.insert(statuses, status)
        end
      end
    end
  end
  report("start", { id = id, statuses = statuses, list = lines(list), transcript = lines(started) })

  -- Resume it by its prefix with a hostile prompt.
  vim.cmd("ThreadlineResume " .. short .. " " .. prompt)
  wait("the resumed turn's reply", function()
    local users = 0
    for _, line in ipairs(lines(started)) do
      if line:find("^## user") then
        users = users + 1
      end
    end
    return users == 2 and has_line(started, function(l) return l:find(" · completed · ", 1, true) end) ~= nil
      and #vim.tbl_filter(function(l) return l:find("^## assistant") end, lines(started)) == 2
  end)
  report("resume", { current = vim.api.nvim_get_current_buf() == started, transcript = lines(started) })

  -- `a` on its row makes it the active session.
  vim.api.nvim_set_current_buf(list)
  for lnum, line in ipairs(lines(list)) do
    if line:find(short, 1, true) then
      vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    end
  end
  vim.api.nvim_feedkeys("a", "x", false)
  wait("the active mark", function()
    return has_line(list, function(l) return l:find("^%* " .. short) end) ~= nil
  end)
  report("activated", lines(list))

  -- A denied tool: the session waits for input, and the user is told so.
  local denied = start("please [[tool:bash:touch marker.txt]]")
  wait("the waiting row and message", function()
    return vim.api.nvim_exec("messages", true):find("is waiting for input", 1, true) ~= nil
      and has_line(list, function(l) return l:find(denied .. "  waiting_for_input", 1, true) end) ~= nil
  end)
  report("waiting", denied)

  -- `x` on a running session's row cancels its turn.
  local slow = start("take your time [[slow:20]]")
  vim.api.nvim_set_current_buf(list)
  for lnum, line in ipairs(lines(list)) do
    if line:find(slow, 1, true) then
      vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    end
  end
  vim.api.nvim_feedkeys("x", "x", false)
  wait("the cancelled row", function()
    return has_line(list, function(l) return l:find(slow, 1, true) and l:find("cancelled", 1, true) end) ~= nil
  end)
  report("cancelled", lines(list))

  -- `/` filters by text (asked through vim.ui.input, which a user's UI plugin may replace);
  -- an empty filter shows every session again.
  local answer
  vim.ui.input = function(_, on_confirm)
    on_confirm(answer)
  end
  local all = #lines(list)
  answer = "MARKER"
  vim.api.nvim_feedkeys("/", "x", false)
  wait("the filtered list", function()
    return lines(list)[1]:find("(filter: MARKER)", 1, true) ~= nil and #lines(list) < all
  end)
  report("filtered", lines(list))
  answer = ""
  vim.api.nvim_feedkeys("/", "x", false)
  wait("the whole list again", function()
    return #lines(list) == all and not lines(list)[1]:find("filter", 1, true)
  end)

  -- `f` on a row forks that session into a new one, which opens.
  for lnum, line in ipairs(lines(list)) do
    if line:find(short, 1, true) then
      vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    end
  end
  answer = "a fork of it"
  vim.api.nvim_feedkeys("f", "x", false)
  wait("the fork's transcript", function()
    local name = vim.api.nvim_buf_get_name(0)
    return name:find("threadline://session/", 1, true) ~= nil and not name:find(id, 1, true)
      and has_line(0, function(l) return l:find(" · completed · ", 1, true) end) ~= nil
      and has_line(0, function(l) return l:find("to: a fork of it", 1, true) end) ~= nil
  end)
  local fork = vim.api.nvim_buf_get_name(0):match("threadline://session/(.+)$")
  wait("the fork's row", function()
    return has_line(list, function(l) return l:find(fork:sub(1, 8), 1, true) end) ~= nil
  end)
  report("fork", { id = fork, transcript = lines(0), rows = #lines(list) - all })

  -- <CR> on a row opens that session's transcript.
  vim.api.nvim_set_current_buf(list)
  for lnum, line in ipairs(lines(list)) do
    if line:find("11111111", 1, true) then
      vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    end
  end
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<CR>", true, false, true), "x", false)
  wait("the transcript from <CR>", function()
    return vim.api.nvim_buf_get_name(0):find("threadline://session/11111111", 1, true) ~= nil
      and has_line(0, function(l) return l:find("^## assistant") end) ~= nil
  end)
  report("enter", lines(0)[1])

  -- An id that is not one is the server's one-sentence error, and opens nothing.
  local before = #vim.api.nvim_list_bufs()
  vim.cmd("ThreadlineOpen ../../../../../../../../../etc/passwd")
  wait("the error", function()
    return vim.api.nvim_exec("messages", true):find("sessionId", 1, true) ~= nil
  end)
  report("bad-id", { new_buffers = #vim.api.nvim_list_bufs() - before })
  report("messages", vim.api.nvim_exec("messages", true))
  report("servers", #(vim.lsp.get_clients or vim.lsp.get_active_clients)())
  vim.cmd("checkhealth threadline")
  report("health", lines(0))
end

local scenarios = { use = scenario_use, missing = scenario_missing, later = scenario_later }
local ok, err = pcall(scenarios[os.getenv("THREADLINE_TEST_SCENARIO")])
if not ok then
  fail(tostring(err))
end
out:close()
vim.cmd("qall!")
