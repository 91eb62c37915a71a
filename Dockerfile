# Production image: a release build of `sitga` on a slim Debian, with ONNX
# Runtime from the PyPI wheel for the fish model.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p sitga-server --bin sitga

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl python3-pip \
    && pip3 install --break-system-packages --no-cache-dir onnxruntime==1.32.0 \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s "$(python3 -c 'import onnxruntime, pathlib; print(next(pathlib.Path(onnxruntime.__file__).parent.glob("capi/libonnxruntime.so.*")))')" /usr/local/lib/libonnxruntime.so \
    && useradd --system --home /var/lib/sitga --create-home sitga
COPY --from=build /src/target/release/sitga /usr/local/bin/sitga
COPY assets /usr/share/sitga/assets
USER sitga
WORKDIR /var/lib/sitga
ENV SITGA_BIND=0.0.0.0:8080 SITGA_LOG_FORMAT=json SITGA_DATA_DIR=/var/lib/sitga/data \
    SITGA_ASSETS_DIR=/usr/share/sitga/assets ORT_DYLIB_PATH=/usr/local/lib/libonnxruntime.so
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fs http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["sitga"]
CMD ["serve"]
