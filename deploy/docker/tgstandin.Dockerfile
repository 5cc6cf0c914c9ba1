# The Telegram Bot API stand-in (cmd/zaki-tgstandin) FROM scratch, for the
# local fleet (deploy/compose) and its tests; never for a real bot. Build from
# the repository root after `make build` (CGO_ENABLED=0, output
# bin/zaki-tgstandin):
#   docker build -f deploy/docker/tgstandin.Dockerfile -t zaki-tgstandin:dev .
# It takes its bot token from ZAKI_BOT_TOKEN, given at run time.
FROM scratch
COPY bin/zaki-tgstandin /zaki-tgstandin
USER 1000:1000
EXPOSE 8081
ENTRYPOINT ["/zaki-tgstandin"]
CMD ["serve"]
