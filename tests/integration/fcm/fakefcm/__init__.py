"""The fake FCM stack: checkin, GCM and Firebase registration, a Web Push endpoint and an MCS server.

Run it through ../fake_fcm.py. Modules: protos (protoc at start), certs (a throw-away CA), model (devices,
subscriptions, queued messages, knobs, counters), httpd (a small HTTP/1.1 server), webpush (what an application
server's POST must look like), routes (the HTTP API), mcs (the MCS server).
"""
