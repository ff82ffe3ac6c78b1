-- The session list buffer of a project: one row per session, refreshed by the server's
-- notifications (never by polling).

local tl = require("threadline")

local M = {}

local views = {} -- bufnr -> {cwd, sessions = {id -> SessionInfo}, active, query, order = {ids by row}}
local HEADER = 2 -- lines above the first row

local function iso_to_time(iso)
  local y, mo, d, h, mi, s = tostring(iso):match("(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then
    return nil
  end
  return os.time({ year = y, month = mo, day = d, hour = h, min = mi, sec = s, isdst = false })
end

--- "42s ago", "5m ago", "3h ago", "2d ago" from an ISO 8601 UTC time.
function M.relative(iso)
  local then_ = tl.present(iso) and iso_to_time(iso)
  if not then_ then
    return "-"
  end
  local now = os.time(os.date("!*t"))
  local ago = math.max(0, os.difftime(now, then_))
  if ago < 60 then
    return string.format("%ds ago", math.floor(ago))
  elseif ago < 3600 then
    return string.format("%dm ago", math.floor(ago / 60))
  elseif ago < 86400 then
    return string.format("%dh ago", math.floor(ago / 3600))
  end
  return string.format("%dd ago", math.floor(ago / 86400))
end

local function cost(session)
  local usage = session.usage
  if tl.present(usage) and tl.present(usage.costUsd) then
    return string.format("$%.2f", usage.costUsd)
  end
  return "-"
end

--- One row: active mark, short id, status, agent, age, cost, title (and the match snippet).
function M.row(session, active)
  local title = session.title
  if tl.present(session.snippet) then
    title = title .. "  « " .. session.snippet:gsub("%s+", " ") .. " »"
  end
  return string.format("%s %-8s  %-17s  %-6s  %-8s  %6s  %s", active and "*" or " ",
    session.sessionId:sub(1, 8), session.status, tl.present(session.agent) and session.agent or "claude",
    M.relative(session.updatedAt), cost(session), title)
end

local function render(bufnr)
  local view = views[bufnr]
  if not view or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local ids = vim.tbl_keys(view.sessions)
  table.sort(ids, function(a, b)
    local sa, sb = view.sessions[a], view.sessions[b]
    if sa.updatedAt == sb.updatedAt then
      return a < b
    end
    return tostring(sa.updatedAt) > tostring(sb.updatedAt)
  end)
  local lines = {
    string.format("Threadline sessions of %s%s", view.cwd, view.query and ("  (filter: " .. view.query .. ")") or ""),
    "  id        status             agent   updated     cost  title",
  }
  for _, id in ipairs(ids) do
    table.insert(lines, M.row(view.sessions[id], id == view.active))
  end
  if #ids == 0 then
    table.insert(lines, view.loading and "  (loading…)" or "  (no sessions; :ThreadlineStart {prompt} starts one)")
  end
  view.order = ids
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
end

--- Ask the server for the project's sessions again (the `R` key, and after a filter).
function M.refresh(bufnr)
  local view = views[bufnr]
  if not view then
    return
  end
  view.loading = true
  local params = { cwd = view.cwd, limit = 1000, query = view.query }
  tl.call("session/list", params, function(result)
    if not views[bufnr] then
      return
    end
    view.loading = false
    view.sessions = {}
    for _, session in ipairs(result.sessions) do
      view.sessions[session.sessionId] = session
    end
    tl.seen(result.sessions)
    view.active = tl.present(result.activeSessionId) and result.activeSessionId or nil
    render(bufnr)
  end)
end

local function same_project(view, session)
  return session.cwd == view.cwd
end

local function on_notification(method, params)
  for bufnr, view in pairs(views) do
    if method == "session/removed" then
      if view.sessions[params.sessionId] then
        view.sessions[params.sessionId] = nil
        render(bufnr)
      end
    elseif method == "threadline/active" then
      if params.cwd == view.cwd then
        view.active = tl.present(params.activeSessionId) and params.activeSessionId or nil
        render(bufnr)
      end
    elseif params.session and same_project(view, params.session) then
      local session = params.session
      if view.query and not view.sessions[session.sessionId] then
        -- A filtered view asks the server whether the new session matches.
        M.refresh(bufnr)
      else
        view.sessions[session.sessionId] = session
        if session.active then
          view.active = session.sessionId
        end
        render(bufnr)
      end
    end
  end
end

--- The session on the cursor's row, or nil.
function M.current(bufnr)
  local view = views[bufnr or vim.api.nvim_get_current_buf()]
  if not view then
    return nil
  end
  local id = view.order[vim.api.nvim_win_get_cursor(0)[1] - HEADER]
  return id and view.sessions[id] or nil
end

local function with_session(fn)
  return function()
    local session = M.current()
    if session then
      fn(session, views[vim.api.nvim_get_current_buf()])
    else
      tl.notify("put the cursor on a session's row.", vim.log.levels.WARN)
    end
  end
end

local function ask(prompt, fn)
  vim.ui.input({ prompt = prompt }, function(text)
    if text and vim.trim(text) ~= "" then
      fn(text)
    end
  end)
end

local function map(bufnr, lhs, fn, desc)
  vim.keymap.set("n", lhs, fn, { buffer = bufnr, nowait = true, silent = true, desc = desc })
end

function M.open(cwd)
  -- The real path, as the agent records a session's cwd.
  cwd = (vim.uv or vim.loop).fs_realpath(vim.fn.fnamemodify(cwd, ":p")) or cwd
  cwd = cwd:gsub("(.)/$", "%1")
  local name = "threadline://sessions" .. cwd
  local bufnr = vim.fn.bufnr(name)
  if bufnr == -1 or not views[bufnr] then
    if not tl.start() then
      return nil
    end
    bufnr = bufnr ~= -1 and bufnr or vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(bufnr, name)
    vim.bo[bufnr].buftype = "nofile"
    vim.bo[bufnr].bufhidden = "hide"
    vim.bo[bufnr].swapfile = false
    vim.bo[bufnr].filetype = "threadline"
    views[bufnr] = { cwd = cwd, sessions = {}, order = {}, loading = true }
    tl.listen("list", on_notification)
    map(bufnr, "<CR>", with_session(function(s)
      require("threadline.transcript").open(s.sessionId)
    end), "Open the transcript")
    map(bufnr, "r", with_session(function(s)
      ask("Resume " .. s.sessionId:sub(1, 8) .. " with: ", function(prompt)
        tl.resume(s.sessionId, prompt, false)
      end)
    end), "Resume with a prompt")
    map(bufnr, "f", with_session(function(s)
      ask("Fork " .. s.sessionId:sub(1, 8) .. " with: ", function(prompt)
        tl.resume(s.sessionId, prompt, true)
      end)
    end), "Fork with a prompt")
    map(bufnr, "a", with_session(function(s, view)
      tl.activate(s.sessionId, view.cwd)
    end), "Make it the active session")
    map(bufnr, "x", with_session(function(s)
      tl.cancel(s.sessionId)
    end), "Cancel the running turn")
    map(bufnr, "/", function()
      vim.ui.input({ prompt = "Filter (empty clears): " }, function(text)
        if text == nil then
          return
        end
        views[bufnr].query = vim.trim(text) ~= "" and text or nil
        M.refresh(bufnr)
      end)
    end, "Filter by text")
    map(bufnr, "R", function()
      M.refresh(bufnr)
    end, "Refresh")
    vim.api.nvim_create_autocmd("BufWipeout", {
      buffer = bufnr,
      callback = function()
        views[bufnr] = nil
      end,
    })
    render(bufnr)
    M.refresh(bufnr)
  end
  vim.api.nvim_set_current_buf(bufnr)
  return bufnr
end

return M
