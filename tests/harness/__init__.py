"""Live servers and the loads and faults run against them, shared by the tests and ``bench/``.

- ``server``: ``running_server``, the one way to start a server (the
  production command on a free loopback port), and ``refused_start``;
- ``proc``: what /proc says of a server (workers, memory, connections);
- ``corpus``: request bodies with their in-process answers;
- ``raw_http`` and ``clients``: requests over raw sockets, from threads,
  slowly; each says how it ended;
- ``slow_clients``: ``SlowHorde``, hundreds of slow connections of four kinds
  driven by one thread, and the slow-client drill's command;
- ``wrk``: load with wrk (``lua/load.lua``), a fixed body or a checked corpus;
- ``runs``: the reliability runs (load, kill -9, SIGTERM, slow clients,
  the slow-client drill, refused models) and their targets.
- ``mixed``: every kind of request a soak sends, good and bad, each with
  the status it must get, in proportion;
- ``soak``: the soak (mixed load beside slow clients, memory of every
  process over time) and its judgement.
- ``nginx``: nginx set up as Elastic Beanstalk sets it up, before a server;
- ``rig``: instances behind nginx and HAProxy, deploys and kills, judged by
  the model version that answered (the scenarios: tests/rig/);
- ``docker``: containers of the image ``.ci/container-proof`` built, through
  its private engine (the checks: tests/container/).

``bench/`` imports from here; nothing here imports ``bench/`` or a test module.
"""
