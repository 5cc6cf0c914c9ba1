# The zaki binary (every role) FROM scratch, for fleet use. Build from the
# repository root after `make build` (CGO_ENABLED=0, output bin/zaki):
#   docker build -f deploy/docker/zaki.Dockerfile -t zaki:dev .
FROM scratch
COPY bin/zaki /zaki
USER 1000:1000
ENTRYPOINT ["/zaki"]
