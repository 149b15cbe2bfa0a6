"""One small Router per feature; mluv.bot.dispatcher wires them in order."""
