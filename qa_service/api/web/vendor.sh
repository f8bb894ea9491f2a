#!/usr/bin/env bash
# Refresh the vendored front-end libraries from the npm registry (development time only).
# The built files and their licences are committed under static/vendor/.
set -euo pipefail
WAVESURFER=7.12.12
ECHARTS=5.6.0
SWAGGER_UI=5.17.14
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "wavesurfer.js@$WAVESURFER" "echarts@$ECHARTS" "swagger-ui-dist@$SWAGGER_UI" >/dev/null
mkdir ws ec sw
tar xzf "wavesurfer.js-$WAVESURFER.tgz" -C ws
tar xzf "echarts-$ECHARTS.tgz" -C ec
tar xzf "swagger-ui-dist-$SWAGGER_UI.tgz" -C sw
cp ws/package/dist/wavesurfer.min.js ws/package/dist/plugins/regions.min.js \
   ws/package/dist/plugins/timeline.min.js "$dest/"
cp ws/package/LICENSE "$dest/LICENSE.wavesurfer.txt"
# The "common" build: line, bar, pie, scatter and the usual components (220 KB gzipped).
cp ec/package/dist/echarts.common.min.js "$dest/echarts.min.js"
cp ec/package/LICENSE "$dest/LICENSE.echarts.txt"
cp ec/package/NOTICE "$dest/NOTICE.echarts.txt"
cp ec/package/licenses/LICENSE-d3 "$dest/LICENSE.echarts-d3.txt"
# Swagger UI for /docs (the API's own pages work on a site without internet access too).
mkdir -p "$dest/swagger-ui"
cp sw/package/swagger-ui-bundle.js sw/package/swagger-ui.css sw/package/favicon-32x32.png "$dest/swagger-ui/"
sed -i 's#/\*\# sourceMappingURL=swagger-ui.css.map\*/##' "$dest/swagger-ui/swagger-ui.css"
cp sw/package/LICENSE "$dest/swagger-ui/LICENSE.txt"
cp sw/package/NOTICE "$dest/swagger-ui/NOTICE.txt"
printf 'wavesurfer.js %s (BSD-3-Clause), with its regions and timeline plugins\nECharts %s (Apache-2.0), dist/echarts.common.min.js\nSwagger UI %s (Apache-2.0), swagger-ui-dist: bundle and stylesheet\nFetched from the npm registry by qa_service/api/web/vendor.sh.\n' \
  "$WAVESURFER" "$ECHARTS" "$SWAGGER_UI" > "$dest/VERSIONS.txt"
echo "vendored into $dest"
