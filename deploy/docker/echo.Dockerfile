# The echo assistant (design §6): a static Go binary FROM scratch, so it builds
# with no registry. Build from the repository root after
#   CGO_ENABLED=0 go build -o bin/zaki-echo ./cmd/zaki-echo
#   docker build -f deploy/docker/echo.Dockerfile -t zaki-echo:v1 .
FROM scratch
# /data is created owned by 1000:1000 so a fresh named volume mounted there
# inherits that owner and the unprivileged process can write its update log.
COPY --chown=1000:1000 deploy/docker/echo-rootfs/ /
COPY bin/zaki-echo /zaki-echo
USER 1000:1000
EXPOSE 8787
ENTRYPOINT ["/zaki-echo"]
