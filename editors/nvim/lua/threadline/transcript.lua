-- A session's transcript in a markdown buffer that follows the session live: Messages
-- arrive in `session/updated.appended`, the text of a running turn in `streaming`.
-- Tool calls and their results are folded.

local tl = require("threadline")

local M = {}

local views = {} -- bufnr -> {id, session, messages = {index -> Message}, offset, streaming, folds}
local by_id = {} -- sessionId -> bufnr

local function text_lines(text)
  return vim.split(tostring(text), "\n", { plain = true })
end

local function add(lines, folds, chunk, folded)
  local first = #lines + 1
  for _, line in ipairs(chunk) do
    table.insert(lines, line)
  end
  if folded and #lines > first then
    table.insert(folds, { first, #lines })
  end
end

local function block_lines(block)
  if block.type == "text" then
    return text_lines(block.text), false
  elseif block.type == "thinking" then
    local out = {}
    for _, line in ipairs(text_lines(block.text)) do
      table.insert(out, "> " .. line)
    end
    return out, true
  elseif block.type == "tool_use" then
    local out = { "▸ tool `" .. tostring(block.name) .. "`", "```json" }
    vim.list_extend(out, text_lines(vim.json.encode(block.input)))
    table.insert(out, "```")
    return out, true
  elseif block.type == "tool_result" then
    local out = { block.isError == true and "▸ tool error" or "▸ tool result", "```" }
    vim.list_extend(out, text_lines(tl.present(block.text) and block.text or ""))
    table.insert(out, "```")
    return out, true
  elseif block.type == "image" then
    return { "[image " .. tostring(block.mediaType) .. "]" }, false
  end
  return {}, false
end

local function render(bufnr)
  local view = views[bufnr]
  if not view or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local s = view.session
  local lines, folds = {}, {}
  if s then
    table.insert(lines, "# " .. s.title)
    local agent = tl.present(s.agent) and s.agent or "claude"
    table.insert(lines, string.format("%s · %s · %s", s.sessionId, s.status, agent))
    if tl.present(s.lastError) then
      table.insert(lines, "error: " .. s.lastError)
    end
  else
    table.insert(lines, "# " .. view.id)
  end
  if view.offset > 0 then
    table.insert(lines, "")
    table.insert(lines, string.format("(%d earlier messages)", view.offset))
  end
  local last = view.offset - 1
  for index in pairs(view.messages) do
    last = math.max(last, index)
  end
  for index = view.offset, last do
    local message = view.messages[index]
    if message and message.isMeta ~= true then
      table.insert(lines, "")
      table.insert(lines, string.format("## %s · %s", message.role, tostring(message.timestamp)))
      for _, block in ipairs(message.content) do
        local chunk, folded = block_lines(block)
        add(lines, folds, chunk, folded)
      end
    end
  end
  if view.streaming then
    table.insert(lines, "")
    table.insert(lines, "## assistant · writing…")
    vim.list_extend(lines, text_lines(view.streaming))
  end
  view.folds = folds
  -- Follow the end when the cursor is on the last line (as a log viewer does).
  local follow = {}
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= vim.api.nvim_buf_line_count(bufnr) then
      table.insert(follow, win)
    end
  end
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  for _, win in ipairs(follow) do
    vim.api.nvim_win_set_cursor(win, { #lines, 0 })
  end
end

--- foldexpr of transcript buffers: tool calls, tool results and thinking fold.
function M.foldexpr(lnum)
  local view = views[vim.api.nvim_get_current_buf()]
  for _, fold in ipairs(view and view.folds or {}) do
    if lnum == fold[1] then
      return ">1"
    elseif lnum > fold[1] and lnum <= fold[2] then
      return "1"
    end
  end
  return "0"
end

local function on_notification(method, params)
  local id = method == "session/removed" and params.sessionId or (params.session and params.session.sessionId)
  local bufnr = id and by_id[id]
  local view = bufnr and views[bufnr]
  if not view then
    return
  end
  if method == "session/removed" then
    view.session = view.session and vim.tbl_extend("force", view.session, { status = "removed" })
  else
    view.session = params.session
    if tl.present(params.appendedFrom) and type(params.appended) == "table" then
      for i, message in ipairs(params.appended) do
        view.messages[params.appendedFrom + i - 1] = message
      end
    end
    if params.streaming ~= nil then
      -- Absent in notifications of servers that do not stream; null once the text is in the transcript.
      view.streaming = tl.present(params.streaming) and params.streaming.text or nil
    elseif tl.present(params.appendedFrom) or params.session.status ~= "running" then
      view.streaming = nil
    end
  end
  render(bufnr)
end

local create

--- Open (or show again) the transcript buffer of session `id`, following it. Without the
--- SessionInfo `session`, the server is asked for it first, so a bad id opens no buffer.
function M.open(id, session)
  local bufnr = by_id[id]
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_set_current_buf(bufnr)
    return
  end
  if session then
    create(id, session)
  else
    tl.call("session/get", { sessionId = id }, function(result)
      if not by_id[id] then
        create(id, result.session)
      end
    end)
  end
end

create = function(id, session)
  local bufnr = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(bufnr, "threadline://session/" .. id)
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "hide"
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].filetype = "markdown"
  views[bufnr] = { id = id, session = session, messages = {}, offset = 0, folds = {} }
  by_id[id] = bufnr
  tl.listen("transcript", on_notification)
  vim.api.nvim_create_autocmd("BufWinEnter", {
    buffer = bufnr,
    callback = function()
      -- Fold options belong to the window: set them wherever the buffer is shown.
      vim.wo.foldmethod = "expr"
      vim.wo.foldexpr = "v:lua.require'threadline.transcript'.foldexpr(v:lnum)"
      vim.wo.foldlevel = 0
    end,
  })
  vim.api.nvim_set_current_buf(bufnr)
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = bufnr,
    callback = function()
      views[bufnr], by_id[id] = nil, nil
      tl.request("session/unfollow", { sessionId = id }, function() end)
    end,
  })
  render(bufnr)
  tl.call("session/messages", { sessionId = id, fromEnd = true, limit = 200, follow = true }, function(page)
    local view = views[bufnr]
    if not view then
      return
    end
    view.offset = page.offset
    for i, message in ipairs(page.messages) do
      -- Keep what a notification already brought in while the page was on its way.
      local index = page.offset + i - 1
      view.messages[index] = view.messages[index] or message
    end
    render(bufnr)
    vim.api.nvim_win_call(vim.fn.bufwinid(bufnr) ~= -1 and vim.fn.bufwinid(bufnr) or 0, function()
      if vim.api.nvim_get_current_buf() == bufnr then
        vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
      end
    end)
  end)
end

return M
