"""Counter rules, free of I/O: staff roles and what each may do, 処理事由, search input, the qualification history
as recorded on a date, what a page shows (masking, 処理停止), the access log's fields."""
