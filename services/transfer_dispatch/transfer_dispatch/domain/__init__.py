"""Transfer rules, free of I/O: recipient policies, payloads built only from them, the log's hash chain."""
