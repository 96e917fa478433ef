#!/bin/sh
# The demo application: prints its version and configuration. The demo image has no shell layer of its own;
# it is built to be promoted and inspected, and runs on top of any base image that has /bin/sh.
set -eu
here=$(dirname "$0")
echo "app $(cat "$here/VERSION")"
cat "$here/config.json"
