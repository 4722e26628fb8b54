# Everything a fresh Debian machine needs is installed by `make deps` (called by the other targets): etcd, Docker,
# busybox (the test image) and the data-path tools the plugin's rootfs carries (e2fsprogs, xfsprogs, open-iscsi,
# multipath-tools, udev, and util-linux where losetup is missing).
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NODE := node

.PHONY: deps system-deps build test test-unit test-integration test-e2e demo demo-stop bench-secrets bench-api bench-docker bench-memory clean plugin plugin-install

# The managed plugin's name on this host (`docker plugin create/enable/disable $(PLUGIN_NAME)`), and optional
# `docker plugin set` arguments applied before enabling, e.g. PLUGIN_SETTINGS="config.source=/srv/hpe state.source=/srv/hpe-state".
PLUGIN_NAME := hpe
PLUGIN_SETTINGS :=

deps: system-deps node_modules/.package-lock.json

system-deps:
	@missing=""; \
	command -v etcd >/dev/null || missing="$$missing etcd-server"; \
	command -v etcdctl >/dev/null || missing="$$missing etcd-client"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || missing="$$missing docker.io"; \
	[ -x /bin/busybox ] || missing="$$missing busybox-static"; \
	command -v mkfs.ext4 >/dev/null || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || missing="$$missing e2fsprogs"; \
	PATH="$$PATH:/usr/sbin:/sbin"; \
	command -v mkfs.xfs >/dev/null || missing="$$missing xfsprogs"; \
	command -v iscsiadm >/dev/null || missing="$$missing open-iscsi"; \
	command -v multipath >/dev/null || missing="$$missing multipath-tools"; \
	command -v udevadm >/dev/null || missing="$$missing udev"; \
	command -v losetup >/dev/null || missing="$$missing util-linux"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

build: deps
	npm run build

# Unit, integration (real etcd, simulators) and end-to-end (real dockerd and the managed plugin) tests.
test: build
	npm run test:unit
	npm run test:integration
	npm run test:e2e

test-unit: build
	npm run test:unit

test-integration: build
	npm run test:integration

test-e2e: build
	npm run test:e2e

demo: build
	$(NODE) dist/bin/hpedockerplugin.mjs demo

demo-stop:
	$(NODE) dist/bin/hpedockerplugin.mjs demo --stop

bench-secrets: build
	$(NODE) dist/test/bench/secrets.bench.js

bench-api: build
	$(NODE) dist/test/bench/api.bench.js

bench-docker: build
	$(NODE) dist/test/bench/docker.bench.js

bench-memory: build
	$(NODE) dist/test/bench/memory.bench.js

clean:
	rm -rf dist build

# The managed plugin's folder (config.json + rootfs/), made without any registry; see plugin/README.md.
plugin: build
	plugin/build-rootfs.sh build/plugin

# Installs it on the Docker daemon of DOCKER_HOST (default: the local one) as $(PLUGIN_NAME), replacing a disabled
# one of that name; an enabled one is left alone (disable it first: it may hold volumes).
plugin-install: plugin
	@if docker plugin inspect $(PLUGIN_NAME) >/dev/null 2>&1; then \
	  if [ "$$(docker plugin inspect -f '{{.Enabled}}' $(PLUGIN_NAME))" = true ]; then \
	    echo "plugin $(PLUGIN_NAME) is enabled: run \`docker plugin disable $(PLUGIN_NAME)\` first, then make plugin-install again" >&2; exit 1; \
	  fi; \
	  echo "removing the old (disabled) plugin $(PLUGIN_NAME)"; docker plugin rm $(PLUGIN_NAME); \
	fi
	docker plugin create $(PLUGIN_NAME) build/plugin
	$(if $(strip $(PLUGIN_SETTINGS)),docker plugin set $(PLUGIN_NAME) $(PLUGIN_SETTINGS))
	docker plugin enable $(PLUGIN_NAME)
