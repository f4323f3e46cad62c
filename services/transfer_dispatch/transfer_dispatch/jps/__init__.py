"""提供1: the JPS provision (日本年金機構への進達) and its processing-result lists (処理結果一覧表).

``domain/`` holds the pure rules (和暦, the fixed-length record layout, the week, reconciliation),
``adapters/`` the dispatch tables, the encrypted medium and the printed lists, ``service.py`` the
batches, ``handlers.py`` what the service keeps from events, ``cli.py`` the commands.
"""
