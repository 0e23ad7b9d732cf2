# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a distroless, non-root base.
#
# Build (the .git directory is not sent to the builder, so the version and
# commit come in as build arguments; without them `strata version` says
# "dev"):
#
#   docker build \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t strata:$(git describe --tags --always --dirty) .
#
# Run the daemon reachable from outside the container (its default listen
# address, 127.0.0.1:8080, is not):
#
#   docker run -p 8080:8080 -v $PWD/nightly.yaml:/etc/strata/strata.yaml:ro \
#     strata serve --config /etc/strata/strata.yaml --listen 0.0.0.0:8080
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/strata ./cmd/strata

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/strata /usr/local/bin/strata
USER nonroot:nonroot
WORKDIR /home/nonroot
# strata serve's API and /metrics, with --listen 0.0.0.0:8080 (or
# api.listen: 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/strata"]
CMD ["--help"]
