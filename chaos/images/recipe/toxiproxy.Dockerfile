# The statically linked toxiproxy server alone. Same entrypoint path as the upstream image, so
# either can be named in configuration.
FROM scratch
COPY toxiproxy /toxiproxy
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
