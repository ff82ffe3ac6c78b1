-- Threadline commands. The server starts on the first command, not at Neovim's start.
if vim.g.loaded_threadline or vim.fn.has("nvim-0.7") ~= 1 then
  return
end
vim.g.loaded_threadline = true

require("threadline.commands").define()
