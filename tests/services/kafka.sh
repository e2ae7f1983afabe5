# Sourced by tests that need a real Apache Kafka broker (KRaft, one node that
# is broker and controller), from Maven Central. Needs tests/lib.sh sourced
# first (WORK, start, free_port).
#
#   kafka_install          resolves the broker's jars into a cache outside the
#                          repository (once per version) and prints the lib dir
#   kafka_start NAME PORT  formats storage under $WORK/NAME and runs the broker
#                          on 127.0.0.1:PORT; waits until it answers metadata
#   kafka_stop NAME        stops it (SIGTERM, then SIGKILL) keeping its storage
#   kafka_restart NAME     runs it again on the same storage and port
#   kafka_topic PORT TOPIC PARTITIONS
#                          creates a topic with `kafka-topics`

KAFKA_VERSION=4.1.1
KAFKA_LOG4J_VERSION=2.24.3 # the log4j-core kafka_2.13 4.1.1 depends on

kafka_install() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/tributary/kafka-$KAFKA_VERSION"
  if [[ ! -f "$cache/.installed" ]]; then
    command -v mvn >/dev/null 2>&1 || {
      echo "installing maven (Debian package)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends maven >&2
    }
    command -v java >/dev/null 2>&1 || {
      echo "installing java (Debian package)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openjdk-17-jre-headless >&2
    }
    rm -rf "$cache"
    mkdir -p "$cache"
    cat >"$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.tributary.tests</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    echo "resolving Apache Kafka $KAFKA_VERSION from Maven Central" >&2
    (cd "$cache" && mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory=lib) >&2 || return 1
    cat >"$cache/log4j2.properties" <<'LOG'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = INFO
LOG
    touch "$cache/.installed"
  fi
  echo "$cache"
}

declare -A KAFKA_PORTS

kafka_start() {
  local name=$1 port=$2 home controller dir
  home=$(kafka_install) || return 1
  controller=$(free_port)
  dir="$WORK/$name"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=10485760
log.segment.bytes=268435456
PROPS
  java -cp "$home/lib/*" -Dlog4j2.configurationFile="$home/log4j2.properties" \
    kafka.tools.StorageTool format -g --cluster-id="$(kafka_cluster_id)" -c "$dir/server.properties" \
    >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; return 1; }
  KAFKA_PORTS[$name]=$port
  kafka_run "$name"
}

kafka_cluster_id() {
  # A base64url-encoded 16-byte UUID, as `kafka-storage random-uuid` makes. It
  # may start with "-", hence --cluster-id=ID rather than -t ID above.
  head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='
}

kafka_run() {
  local name=$1 home
  home=$(kafka_install) || return 1
  start "$name" java -Xms256m -Xmx512m -XX:+UseG1GC -cp "$home/lib/*" \
    -Dlog4j2.configurationFile="$home/log4j2.properties" kafka.Kafka "$WORK/$name/server.properties"
  echo $! >"$WORK/$name/pid"
  kafka_wait "${KAFKA_PORTS[$name]}" 90 || { tail -50 "$WORK/$name.log" >&2; return 1; }
}

kafka_wait() {
  local port=$1 deadline=$((SECONDS + ${2:-60}))
  until kcat -b "127.0.0.1:$port" -L -m 5 >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "kafka on port $port is not ready" >&2
      return 1
    fi
    sleep 0.5
  done
}

kafka_stop() {
  local name=$1 pid i
  pid=$(cat "$WORK/$name/pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

kafka_restart() {
  kafka_run "$1"
}

kafka_topic() {
  local port=$1 topic=$2 partitions=$3 home
  home=$(kafka_install) || return 1
  java -cp "$home/lib/*" -Dlog4j2.configurationFile="$home/log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --create \
    --if-not-exists --topic "$topic" --partitions "$partitions" --replication-factor 1 >&2
}
