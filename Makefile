# Everything a fresh Debian machine needs is installed by `make deps` (called by the other targets).
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := etcd-server etcd-client openssl
NODE := node

.PHONY: deps system-deps build test test-unit test-integration demo demo-stop bench-secrets clean

deps: system-deps node_modules/.package-lock.json

system-deps:
	@missing=""; \
	command -v etcd >/dev/null || missing="$$missing etcd-server"; \
	command -v etcdctl >/dev/null || missing="$$missing etcd-client"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

build: deps
	npm run build

test: build
	npm run test:unit
	npm run test:integration

test-unit: build
	npm run test:unit

test-integration: build
	npm run test:integration

demo: build
	$(NODE) dist/src/cli/hpedockerplugin.js demo

demo-stop:
	$(NODE) dist/src/cli/hpedockerplugin.js demo --stop

bench-secrets: build
	$(NODE) dist/test/bench/secrets.bench.js

clean:
	rm -rf dist build
