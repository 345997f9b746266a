"""Phoenix channels: the programming model and the wire format (``protocol.md`` §1, §3).

``serializer`` turns frames into :class:`Message` and back; ``conn`` is one client
connection's outbound path (a WebSocket or a long-poll buffer); ``channel`` is the Channel
behaviour (one process per joined topic) and its ``Socket``; ``session`` is the SocketSession
process (one per connection) that routes frames to channels; ``handler`` is what an
application writes to accept connections and route topics; ``token`` signs and verifies
Phoenix.Token-style tokens. ``client`` is the same protocol from the other end (a Python
client for API callers, tests and load generators); ``testing`` is Phoenix's ChannelCase as a
pytest plugin. The aiohttp side (``/socket/websocket``, ``/socket/longpoll``) is in
``web/sockets.py`` and ``web/longpoll.py``; the application's channels are in ``actors/``.

This package imports ``otp`` and nothing of the application, except that ``testing`` takes
the node's process names (the PubSub's) from ``hearth.names``.
"""
