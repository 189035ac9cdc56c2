#!/bin/sh
# The system packages the tests drive from Debian: Chromium (browser tests, through Playwright,
# which never downloads a browser of its own) and nginx (the X-Accel-Redirect tests).
# Installs what is missing with apt-get; says what to do where it cannot.
set -eu

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	run=""
elif command -v sudo >/dev/null 2>&1; then
	run="sudo"
else
	echo "The tests need these Debian packages:$missing. Install them as root: apt-get install -y$missing" >&2
	exit 1
fi
echo "Installing$missing from Debian's packages (needed by the tests)" >&2
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq
for package in $missing; do
	# nginx-light is the small build; plain nginx where a release lacks it.
	$run apt-get install -y -qq "$package" >/dev/null || { [ "$package" = nginx-light ] && $run apt-get install -y -qq nginx >/dev/null; }
done
