-- luacheck settings for the Neovim plugin (editors/nvim) and the test driver (tests/editors).
std = "luajit"
globals = { "vim" } -- vim.bo, vim.wo and vim.g are written to, as Neovim means them to be
max_line_length = 120
