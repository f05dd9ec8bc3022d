# packet_logs: multi-stage build on Debian 12. The runtime image holds the
# binary and the runtime libraries only, runs as a non-root user, and needs
# NET_ADMIN (NFLOG, --rules) and the host's network:
#   docker build -t packet_logs .
#   docker run --rm --network host --cap-add NET_ADMIN packet_logs --rules
#   docker exec -it CONTAINER stream-json-logs > log.json   (as SPR's)
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libnetfilter-log-dev libmicrohttpd-dev libwebsockets-dev libjson-c-dev \
      libpcap-dev libnftables-dev zlib1g-dev libnats-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt openapi.yaml LICENSE ./
COPY cmake cmake
COPY dist dist
COPY base base
COPY parser parser
COPY store store
COPY api api
COPY server server
COPY man man
COPY web web
COPY tools tools
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j "$(nproc)" --target packet_logs stream-json-logs \
 && install -m 0755 build/packet_logs build/tools/stream-json-logs /usr/local/bin/

FROM debian:12-slim
COPY --from=build /usr/local/bin/packet_logs /usr/local/bin/stream-json-logs /usr/local/bin/
COPY LICENSE /usr/share/doc/packet_logs/LICENSE
# the capability lives on the file, set here: COPY may not keep xattrs
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnetfilter-log1 libmicrohttpd12 \
      libwebsockets17 libjson-c5 libpcap0.8 libnftables1 libnats3.4 libcap2-bin \
 && setcap cap_net_admin+ep /usr/local/bin/packet_logs \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin packet_logs
USER packet_logs
# No EXPOSE: the container runs with --network host (NFLOG and --rules act on
# the host's namespace), where published ports do not apply, and packet_logs
# listens on 127.0.0.1:8080 unless PACKET_LOGS_LISTEN (with a token) says
# otherwise: README.md "Docker".
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s \
  CMD ["/usr/local/bin/packet_logs", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/packet_logs"]
