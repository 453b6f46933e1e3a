"""``python -m clicksend_async.cli``: the ``clicksend`` command."""

from clicksend_async.cli import main

main()
