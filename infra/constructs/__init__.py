"""One construct per concern, composed by :class:`infra.stack.VoltOpsStack`."""
