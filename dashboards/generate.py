#!/usr/bin/env python3
"""Writes the Grafana dashboards in this folder from the definitions below.

    dashboards/generate.py          rewrites the *.json files
    dashboards/generate.py --check  fails when a committed file differs

Conventions every dashboard keeps (tests/dashboards/check_dashboards.py checks
them): a `datasource` variable used by every panel and target, stable uids,
one schemaVersion, a unit on every panel, `$__rate_interval` in rates, the
tag `tributary`.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_VERSION = 39
PROM = {"type": "prometheus", "uid": "${datasource}"}
ES = {"type": "elasticsearch", "uid": "${datasource}"}


class Dashboard:
    def __init__(self, uid, title, description, datasource_type):
        self.uid = uid
        self.title = title
        self.description = description
        self.datasource_type = datasource_type
        self.ds = PROM if datasource_type == "prometheus" else ES
        self.variables = []
        self.panels = []
        self.y = 0
        self.x = 0
        self.next_id = 1

    def variable(self, name, label, query, multi=True, include_all=True):
        self.variables.append({
            "name": name,
            "label": label,
            "type": "query",
            "datasource": self.ds,
            "query": {"query": query, "refId": f"var-{name}"},
            "refresh": 2,
            "sort": 1,
            "multi": multi,
            "includeAll": include_all,
            "allValue": ".*" if include_all else None,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}
            if include_all else {"selected": False, "text": "", "value": ""},
            "options": [],
            "hide": 0,
        })

    def row(self, title):
        if self.x:
            self.y += 8
            self.x = 0
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def _place(self, width, height):
        if self.x + width > 24:
            self.y += height
            self.x = 0
        pos = {"h": height, "w": width, "x": self.x, "y": self.y}
        self.x += width
        if self.x >= 24:
            self.x = 0
            self.y += height
        return pos

    def table(self, title, unit, targets, description="", width=24, height=8):
        """Instant queries in table format, one row per label set, joined."""
        self.panels.append({
            "type": "table",
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": self.ds,
            "gridPos": self._place(width, height),
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"showHeader": True},
            "targets": [dict(self._target(i, (expr, legend)), format="table", instant=True,
                             range=False) for i, (expr, legend) in enumerate(targets)],
            "transformations": [
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {f"Value #{chr(ord('A') + i)}": legend
                                     for i, (_, legend) in enumerate(targets)}}},
            ],
        })

    def node_graph(self, title, nodes, edges, description="", width=24, height=12):
        """Grafana's node graph: `nodes` gives series labelled id, `edges` series
        labelled id, source and target; their values are the main statistic."""
        self.panels.append({
            "type": "nodeGraph",
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": self.ds,
            "gridPos": self._place(width, height),
            "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": []},
            "options": {},
            "targets": [dict(self._target(0, (nodes, "nodes")), format="table", instant=True,
                             range=False),
                        dict(self._target(1, (edges, "edges")), format="table", instant=True,
                             range=False)],
            "transformations": [
                {"id": "organize", "options": {"excludeByName": {"Time": True},
                                               "renameByName": {"Value #A": "mainstat",
                                                                "Value #B": "mainstat"}}},
            ],
        })

    def timeseries(self, title, unit, targets, description="", width=12, stack=False,
                   exemplars=False):
        self.panels.append({
            "type": "timeseries",
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": self.ds,
            "gridPos": self._place(width, 8),
            "fieldConfig": {
                "defaults": {
                    "unit": unit,
                    "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                               "stacking": {"mode": "normal" if stack else "none",
                                            "group": "A"}},
                },
                "overrides": [],
            },
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "showLegend": True, "calcs": ["mean", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [dict(self._target(i, t), **({"exemplar": True} if exemplars else {}))
                        for i, t in enumerate(targets)],
        })

    def stat(self, title, unit, expr, description="", width=6):
        self.panels.append({
            "type": "stat",
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": self.ds,
            "gridPos": self._place(width, 4),
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"},
            "targets": [self._target(0, (expr, title))],
        })

    def logs_table(self, title, query, description="", width=24):
        self.panels.append({
            "type": "table",
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": self.ds,
            "gridPos": self._place(width, 10),
            "fieldConfig": {"defaults": {"unit": "string"}, "overrides": []},
            "options": {"showHeader": True},
            "targets": [{
                "refId": "A",
                "datasource": self.ds,
                "query": query,
                "timeField": "@timestamp",
                "metrics": [{"id": "1", "type": "raw_data", "settings": {"size": "100"}}],
                "bucketAggs": [],
            }],
        })

    def es_timeseries(self, title, query, group_by, description="", width=12):
        self.panels.append({
            "type": "timeseries",
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": self.ds,
            "gridPos": self._place(width, 8),
            "fieldConfig": {"defaults": {"unit": "short", "custom": {
                "drawStyle": "bars", "fillOpacity": 60,
                "stacking": {"mode": "normal", "group": "A"}}}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom",
                                   "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [{
                "refId": "A",
                "datasource": self.ds,
                "query": query,
                "timeField": "@timestamp",
                "metrics": [{"id": "1", "type": "count"}],
                "bucketAggs": [
                    {"id": "2", "type": "terms", "field": group_by,
                     "settings": {"size": "10", "order": "desc", "orderBy": "_count",
                                  "min_doc_count": "1"}},
                    {"id": "3", "type": "date_histogram", "field": "@timestamp",
                     "settings": {"interval": "auto", "min_doc_count": "0"}},
                ],
            }],
        })

    def _target(self, i, target):
        expr, legend = target
        return {"refId": chr(ord("A") + i), "datasource": self.ds, "expr": expr,
                "legendFormat": legend, "range": True, "instant": False}

    def json(self):
        datasource_var = {
            "name": "datasource", "label": "Data source", "type": "datasource",
            "query": self.datasource_type, "hide": 0, "options": [],
            "current": {"selected": False, "text": "default", "value": "default"},
            "refresh": 1, "regex": "", "includeAll": False, "multi": False,
        }
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["tributary"],
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "refresh": "30s",
            "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["tributary"], "asDropdown": True,
                       "title": "Tributary", "includeVars": True, "keepTime": True,
                       "icon": "external link", "targetBlank": False, "tooltip": "",
                       "url": ""}],
            "templating": {"list": [datasource_var] + self.variables},
            "panels": self.panels,
        }


# Label filters every Tributary self-metric query carries.
SEL = 'job=~"$job", instance=~"$instance"'


def rate(metric, extra="", by="", window="$__rate_interval"):
    sel = SEL + (", " + extra if extra else "")
    inner = f"rate({metric}{{{sel}}}[{window}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(q, metric, by, extra=""):
    """The q-quantile of a histogram's rate, per the `by` labels."""
    sel = SEL + (", " + extra if extra else "")
    return (f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) "
            f"(rate({metric}_bucket{{{sel}}}[$__rate_interval])))")


def pipeline():
    d = Dashboard("tributary-pipeline", "Tributary / Pipeline",
                  "What Tributary's agents and collectors receive, send, retry, drop and "
                  "buffer, per component and signal.", "prometheus")
    d.variable("job", "Program", "label_values(tributary_build_info, job)")
    d.variable("instance", "Instance", 'label_values(tributary_build_info{job=~"$job"}, instance)')
    d.variable("pipeline", "Pipeline",
               'label_values(tributary_pipeline_received_records_total{job=~"$job"}, pipeline)')
    d.variable("receiver", "Receiver",
               'label_values(tributary_receiver_accepted_records_total{job=~"$job"}, receiver)')
    d.variable("exporter", "Exporter",
               'label_values(tributary_exporter_sent_records_total{job=~"$job"}, exporter)')

    d.row("Overview")
    d.stat("Instances up", "short", f'count(tributary_build_info{{{SEL}}})')
    d.stat("Received records/s", "rps",
           rate("tributary_receiver_accepted_records_total", 'receiver=~"$receiver"'))
    d.stat("Sent records/s", "rps",
           rate("tributary_exporter_sent_records_total", 'exporter=~"$exporter"'))
    d.stat("Dropped records/s", "rps", rate("tributary_dropped_records_total"))

    d.row("Receivers")
    d.timeseries("Accepted records/s", "rps", [(
        rate("tributary_receiver_accepted_records_total", 'receiver=~"$receiver"',
             "job, receiver, signal, transport"),
        "{{job}} {{receiver}} {{signal}} ({{transport}})")])
    d.timeseries("Refused records/s by reason", "rps", [(
        rate("tributary_receiver_refused_records_total", 'receiver=~"$receiver"',
             "job, receiver, signal, reason"),
        "{{job}} {{receiver}} {{signal}}: {{reason}}")])
    d.timeseries("Failed requests/s by reason", "reqps", [(
        rate("tributary_receiver_failed_requests_total", 'receiver=~"$receiver"',
             "job, receiver, reason"),
        "{{job}} {{receiver}}: {{reason}}")])
    d.timeseries("Records into pipelines/s", "rps", [(
        rate("tributary_pipeline_received_records_total", 'pipeline=~"$pipeline"',
             "job, pipeline, signal"),
        "{{job}} {{pipeline}} ({{signal}})")])

    d.row("Exporters")
    d.timeseries("Sent records/s", "rps", [(
        rate("tributary_exporter_sent_records_total", 'exporter=~"$exporter"',
             "job, exporter, signal"),
        "{{job}} {{exporter}} {{signal}}")])
    d.timeseries("Failed and retried records/s", "rps", [
        (rate("tributary_exporter_send_failed_records_total", 'exporter=~"$exporter"',
              "job, exporter, signal"), "failed {{job}} {{exporter}} {{signal}}"),
        (rate("tributary_exporter_retried_records_total", 'exporter=~"$exporter"',
              "job, exporter, signal"), "retried {{job}} {{exporter}} {{signal}}")])
    d.timeseries("Dropped records/s by reason", "rps", [(
        rate("tributary_dropped_records_total", "", "job, component, signal, reason"),
        "{{job}} {{component}} {{signal}}: {{reason}}")],
        description="Every record Tributary lets go of, by why.")
    d.timeseries("Dead-lettered records/s", "rps", [(
        rate("tributary_dead_lettered_records_total", 'exporter=~"$exporter"',
             "job, exporter, signal"),
        "{{job}} {{exporter}} {{signal}}")])
    d.timeseries("Export latency", "s", [
        (quantile(q, "tributary_export_duration_seconds", "job, exporter",
                  'exporter=~"$exporter"'), f"p{p} {{{{job}}}} {{{{exporter}}}}")
        for q, p in (("0.5", 50), ("0.99", 99))])
    d.timeseries("Exporter queue fill", "percentunit", [(
        f'sum by (job, instance, exporter) (tributary_queue_size{{{SEL}, exporter=~"$exporter"}})'
        f' / sum by (job, instance, exporter) (tributary_queue_capacity{{{SEL}, '
        f'exporter=~"$exporter"}})', "{{instance}} {{exporter}}")])

    d.row("Write-ahead buffer")
    d.timeseries("Buffer fill", "percentunit", [(
        f'sum by (job, instance, pipeline) (tributary_buffer_bytes{{{SEL}, pipeline=~"$pipeline"}})'
        f' / sum by (job, instance, pipeline) (tributary_buffer_capacity_bytes{{{SEL}, '
        f'pipeline=~"$pipeline"}})', "{{instance}} {{pipeline}}")])
    d.timeseries("Buffer backlog (records)", "short", [(
        f'sum by (job, instance, pipeline, exporter) (tributary_buffer_records{{{SEL}, '
        f'pipeline=~"$pipeline"}})', "{{instance}} {{pipeline}} → {{exporter}}")])
    d.timeseries("Buffer fsync latency p99", "s", [(
        quantile("0.99", "tributary_buffer_fsync_duration_seconds", "job, pipeline",
                 'pipeline=~"$pipeline"'), "{{job}} {{pipeline}}")])
    d.timeseries("Batch size", "short", [(
        f'sum by (job, processor, signal) (rate(tributary_processor_batch_send_size_sum{{{SEL}}}'
        f'[$__rate_interval])) / sum by (job, processor, signal) (rate('
        f'tributary_processor_batch_send_size_count{{{SEL}}}[$__rate_interval]))',
        "{{job}} {{processor}} {{signal}}")])

    d.row("Tail")
    d.timeseries("Lines read/s", "rps", [(
        rate("tributary_tail_records_total", "", "instance, receiver"),
        "{{instance}} {{receiver}}")])
    d.timeseries("Open files and rotations", "short", [
        (f'sum by (instance, receiver) (tributary_tail_open_files{{{SEL}}})',
         "open {{instance}} {{receiver}}"),
        (f'sum by (instance, receiver, kind) (increase(tributary_tail_rotations_total{{{SEL}}}'
         f'[$__rate_interval]))', "rotated ({{kind}}) {{instance}} {{receiver}}")])
    d.timeseries("Checkpoint lag", "bytes", [(
        f'sum by (instance, receiver) (tributary_tail_checkpoint_lag_bytes{{{SEL}}})',
        "{{instance}} {{receiver}}")],
        description="Bytes read but not yet acknowledged and checkpointed.")
    d.timeseries("Parse errors and truncated records/s", "rps", [
        (rate("tributary_tail_parse_errors_total", "", "instance, receiver"),
         "parse errors {{instance}} {{receiver}}"),
        (rate("tributary_tail_truncated_records_total", "", "instance, receiver"),
         "truncated {{instance}} {{receiver}}")])

    d.row("Kafka")
    d.timeseries("Produced messages/s", "rps", [(
        rate("tributary_kafka_messages_produced_total", "", "job, exporter"),
        "{{job}} {{exporter}}")])
    d.timeseries("Delivery errors/s", "rps", [(
        rate("tributary_kafka_delivery_errors_total", "", "job, exporter, code"),
        "{{job}} {{exporter}}: {{code}}")])
    d.timeseries("Consumer lag", "short", [(
        f'sum by (job, receiver, topic) (tributary_kafka_consumer_lag{{{SEL}}})',
        "{{job}} {{receiver}} {{topic}}")])
    d.timeseries("Consumed messages/s", "rps", [(
        rate("tributary_kafka_messages_consumed_total", "", "job, receiver, topic"),
        "{{job}} {{receiver}} {{topic}}")])

    d.row("Elasticsearch, remote write, scrape")
    d.timeseries("Elasticsearch documents/s", "rps", [
        (rate("tributary_elasticsearch_documents_indexed_total", "", "job, exporter"),
         "indexed {{job}} {{exporter}}"),
        (rate("tributary_elasticsearch_documents_retried_total", "", "job, exporter"),
         "retried {{job}} {{exporter}}")])
    d.timeseries("Elasticsearch failed documents/s", "rps", [(
        rate("tributary_elasticsearch_documents_failed_total", "", "job, exporter, status, reason"),
        "{{job}} {{exporter}} {{status}} {{reason}}")])
    d.timeseries("Remote-write failed samples/s", "rps", [(
        rate("tributary_remote_write_samples_failed_total", "", "job, exporter, reason"),
        "{{job}} {{exporter}}: {{reason}}")])
    d.timeseries("Scrape failures/s", "rps", [(
        rate("tributary_scrape_failures_total", "", "job, receiver, reason"),
        "{{job}} {{receiver}}: {{reason}}")])

    d.row("Resources")
    d.timeseries("CPU", "percentunit", [(
        f'sum by (job, instance) (rate(process_cpu_seconds_total{{{SEL}}}[$__rate_interval]))',
        "{{job}} {{instance}}")], description="CPU-seconds per second: 1 is one core.")
    d.timeseries("Resident memory", "bytes", [(
        f'sum by (job, instance) (process_resident_memory_bytes{{{SEL}}})',
        "{{job}} {{instance}}")])
    d.timeseries("Memory limiter", "short", [
        (f'max by (job, instance, processor) (tributary_memory_limiter_refusing{{{SEL}}})',
         "refusing {{instance}} {{processor}}"),
        (rate("tributary_memory_limiter_refused_records_total", "", "job, instance, processor"),
         "refused records/s {{instance}} {{processor}}")],
        description="1 while the memory limiter refuses data; the records it refused per second.")
    d.timeseries("Memory budget (request bodies)", "bytes", [(
        f'sum by (job, instance, state) (tributary_memory_budget_bytes{{{SEL}}})',
        "{{instance}} {{state}}")])
    d.timeseries("Configuration reloads", "short", [
        (f'sum by (job, instance, result) '
         f'(increase(tributary_config_reloads_total{{{SEL}}}[$__rate_interval]))',
         "{{instance}} {{result}}"),
        (f'min by (job, instance) (tributary_config_last_reload_successful{{{SEL}}})',
         "last reload ok {{instance}}")],
        description="Reloads (SIGHUP or POST /-/reload) by result; 1 while the last one "
                    "succeeded, 0 after a failed one (the previous configuration runs on).")
    return d


def node():
    d = Dashboard("tributary-node", "Tributary / Node",
                  "Nodes as the hostmetrics receiver (or the Prometheus node exporter) "
                  "reports them.", "prometheus")
    d.variable("job", "Job", "label_values(node_boot_time_seconds, job)")
    d.variable("instance", "Node", 'label_values(node_boot_time_seconds{job=~"$job"}, instance)')
    s = SEL
    d.row("Overview")
    d.stat("Nodes", "short", f"count(node_boot_time_seconds{{{s}}})")
    d.stat("CPU busy", "percentunit",
           f'1 - avg(rate(node_cpu_seconds_total{{{s}, mode="idle"}}[$__rate_interval]))')
    d.stat("Memory used", "percentunit",
           f"1 - sum(node_memory_MemAvailable_bytes{{{s}}}) / sum(node_memory_MemTotal_bytes{{{s}}})")
    d.stat("Load (1m) per CPU", "short",
           f'sum(node_load1{{{s}}}) / count(node_cpu_seconds_total{{{s}, mode="idle"}})')
    d.row("CPU and memory")
    d.timeseries("CPU by mode", "percentunit", [(
        f'sum by (instance, mode) (rate(node_cpu_seconds_total{{{s}, mode!="idle"}}'
        f'[$__rate_interval])) / on (instance) group_left count by (instance) '
        f'(node_cpu_seconds_total{{{s}, mode="idle"}})', "{{instance}} {{mode}}")], stack=True)
    d.timeseries("Load", "short", [
        (f"node_load1{{{s}}}", "{{instance}} 1m"),
        (f"node_load5{{{s}}}", "{{instance}} 5m"),
        (f"node_load15{{{s}}}", "{{instance}} 15m")])
    d.timeseries("Memory", "bytes", [
        (f"node_memory_MemTotal_bytes{{{s}}} - node_memory_MemAvailable_bytes{{{s}}}",
         "{{instance}} used"),
        (f"node_memory_MemAvailable_bytes{{{s}}}", "{{instance}} available"),
        (f"node_memory_Cached_bytes{{{s}}}", "{{instance}} cached")])
    d.timeseries("Pressure (PSI)", "percentunit", [(
        f"rate(node_pressure_cpu_waiting_seconds_total{{{s}}}[$__rate_interval])",
        "{{instance}} cpu waiting"),
        (f"rate(node_pressure_memory_waiting_seconds_total{{{s}}}[$__rate_interval])",
         "{{instance}} memory waiting"),
        (f"rate(node_pressure_io_waiting_seconds_total{{{s}}}[$__rate_interval])",
         "{{instance}} io waiting")],
        description="Share of time some tasks waited; empty on kernels without PSI.")
    d.row("Disk and filesystems")
    d.timeseries("Disk throughput", "Bps", [
        (f"sum by (instance, device) (rate(node_disk_read_bytes_total{{{s}}}[$__rate_interval]))",
         "{{instance}} {{device}} read"),
        (f"sum by (instance, device) (rate(node_disk_written_bytes_total{{{s}}}"
         f"[$__rate_interval]))", "{{instance}} {{device}} written")])
    d.timeseries("Disk busy", "percentunit", [(
        f"rate(node_disk_io_time_seconds_total{{{s}}}[$__rate_interval])",
        "{{instance}} {{device}}")])
    d.timeseries("Filesystem used", "percentunit", [(
        f'1 - node_filesystem_avail_bytes{{{s}}} / node_filesystem_size_bytes{{{s}}}',
        "{{instance}} {{mountpoint}}")])
    d.timeseries("Filesystem inodes used", "percentunit", [(
        f'1 - node_filesystem_files_free{{{s}}} / node_filesystem_files{{{s}}}',
        "{{instance}} {{mountpoint}}")])
    d.row("Network")
    d.timeseries("Network traffic", "Bps", [
        (f"rate(node_network_receive_bytes_total{{{s}}}[$__rate_interval])",
         "{{instance}} {{device}} in"),
        (f"rate(node_network_transmit_bytes_total{{{s}}}[$__rate_interval])",
         "{{instance}} {{device}} out")])
    d.timeseries("Network errors and drops", "pps", [
        (f"rate(node_network_receive_errs_total{{{s}}}[$__rate_interval]) + "
         f"rate(node_network_transmit_errs_total{{{s}}}[$__rate_interval])",
         "{{instance}} {{device}} errors"),
        (f"rate(node_network_receive_drop_total{{{s}}}[$__rate_interval]) + "
         f"rate(node_network_transmit_drop_total{{{s}}}[$__rate_interval])",
         "{{instance}} {{device}} drops")])
    d.timeseries("Context switches and forks", "ops", [
        (f"rate(node_context_switches_total{{{s}}}[$__rate_interval])",
         "{{instance}} context switches"),
        (f"rate(node_forks_total{{{s}}}[$__rate_interval])", "{{instance}} forks")])
    d.timeseries("Processes", "short", [
        (f"node_procs_running{{{s}}}", "{{instance}} running"),
        (f"node_procs_blocked{{{s}}}", "{{instance}} blocked")])
    return d


def services():
    d = Dashboard("tributary-services", "Tributary / Services (HTTP)",
                  "Request rate, errors and latency per service and route, from the "
                  "OpenTelemetry HTTP semantic-convention histograms and from the spans "
                  "(the collector's spanmetrics connector), and the service graph "
                  "(its servicegraph connector).", "prometheus")
    d.variable("job", "Service",
               "label_values(http_server_request_duration_seconds_count, job)")
    d.variable("instance", "Instance",
               'label_values(http_server_request_duration_seconds_count{job=~"$job"}, instance)')
    srv = f'http_server_request_duration_seconds_count{{{SEL}}}'
    err = (f'http_server_request_duration_seconds_count{{{SEL}, '
           f'http_response_status_code=~"5.."}}')
    d.row("Overview")
    d.stat("Requests/s", "reqps", f"sum(rate({srv}[$__rate_interval]))")
    d.stat("Error ratio (5xx)", "percentunit",
           f"sum(rate({err}[$__rate_interval])) / sum(rate({srv}[$__rate_interval]))")
    d.stat("p99 latency", "s", quantile("0.99", "http_server_request_duration_seconds", ""))
    d.stat("Instances", "short", f"count(count by (job, instance) ({srv}))")
    d.row("Server side")
    d.timeseries("Requests/s by service and route", "reqps", [(
        f"sum by (job, http_route) (rate({srv}[$__rate_interval]))",
        "{{job}} {{http_route}}")])
    d.timeseries("Error ratio by service and route", "percentunit", [(
        f"sum by (job, http_route) (rate({err}[$__rate_interval])) / "
        f"sum by (job, http_route) (rate({srv}[$__rate_interval]))",
        "{{job}} {{http_route}}")])
    for q in ("0.5", "0.99"):
        d.timeseries(f"Latency p{int(float(q) * 100)} by service and route", "s", [(
            quantile(q, "http_server_request_duration_seconds", "job, http_route"),
            "{{job}} {{http_route}}")])
    d.timeseries("Requests/s by status code", "reqps", [(
        f"sum by (job, http_response_status_code) (rate({srv}[$__rate_interval]))",
        "{{job}} {{http_response_status_code}}")])
    d.timeseries("Requests in progress", "short", [(
        f"sum by (job) (http_server_active_requests{{{SEL}}})", "{{job}}")])
    cli = f'http_client_request_duration_seconds_count{{{SEL}}}'
    d.row("Client side")
    d.timeseries("Outgoing requests/s by server", "reqps", [(
        f"sum by (job, server_address) (rate({cli}[$__rate_interval]))",
        "{{job}} → {{server_address}}")])
    d.timeseries("Outgoing latency p99 by server", "s", [(
        quantile("0.99", "http_client_request_duration_seconds", "job, server_address"),
        "{{job}} → {{server_address}}")])

    # The collector's spanmetrics connector: the same figures from the spans.
    server = 'span_kind="SPAN_KIND_SERVER"'
    calls = f'traces_span_metrics_calls_total{{{SEL}, {server}}}'
    failed = f'traces_span_metrics_calls_total{{{SEL}, {server}, status_code="STATUS_CODE_ERROR"}}'
    d.row("From spans (spanmetrics)")
    d.timeseries("Span requests/s by service and operation", "reqps", [(
        f"sum by (job, span_name) (rate({calls}[$__rate_interval]))", "{{job}} {{span_name}}")],
        description="Server spans counted by the collector's spanmetrics connector.")
    d.timeseries("Span error ratio by service and operation", "percentunit", [(
        f"sum by (job, span_name) (rate({failed}[$__rate_interval])) / "
        f"sum by (job, span_name) (rate({calls}[$__rate_interval]))", "{{job}} {{span_name}}")],
        description="Server spans with status ERROR over all server spans.")
    d.timeseries("Span latency p50, p95, p99 by service", "ms", [
        (quantile(q, "traces_span_metrics_duration_milliseconds", "job", server),
         f"{{{{job}}}} p{int(float(q) * 100)}") for q in ("0.5", "0.95", "0.99")],
        description="Server span durations; the points are exemplars, linked to their traces.",
        width=24, exemplars=True)
    d.table("Operations", "short", [
        (f"sum by (job, span_name) (rate({calls}[$__rate_interval]))", "requests/s"),
        (f"sum by (job, span_name) (rate({failed}[$__rate_interval])) / "
         f"sum by (job, span_name) (rate({calls}[$__rate_interval]))", "error ratio"),
        (quantile("0.95", "traces_span_metrics_duration_milliseconds", "job, span_name", server),
         "p95 ms")],
        description="Per service and operation (server spans): rate, error ratio, p95.")

    # The collector's servicegraph connector: who calls whom.
    edges = "traces_service_graph_request_total"
    d.row("Service graph (servicegraph)")
    d.table("Service graph edges", "short", [
        (f"sum by (client, server, connection_type) (rate({edges}[$__rate_interval]))",
         "requests/s"),
        (f"sum by (client, server, connection_type) "
         f"(rate(traces_service_graph_request_failed_total[$__rate_interval])) / "
         f"sum by (client, server, connection_type) (rate({edges}[$__rate_interval]))",
         "failed ratio"),
        ("histogram_quantile(0.95, sum by (le, client, server, connection_type) "
         "(rate(traces_service_graph_request_server_seconds_bucket[$__rate_interval])))",
         "p95 s (server side)")],
        description="Each edge: calls a client made to a server, paired from their spans.")
    d.node_graph(
        "Service graph",
        f'sum by (id) (label_replace(sum by (client) (rate({edges}[$__rate_interval])), '
        f'"id", "$1", "client", "(.*)") or label_replace(sum by (server) '
        f'(rate({edges}[$__rate_interval])), "id", "$1", "server", "(.*)"))',
        f'label_replace(label_replace(label_join(sum by (client, server) '
        f'(rate({edges}[$__rate_interval])), "id", "->", "client", "server"), '
        f'"source", "$1", "client", "(.*)"), "target", "$1", "server", "(.*)")',
        description="Services and the calls between them (requests/s); databases and "
        "services outside tracing are virtual nodes.")
    return d


def logs():
    d = Dashboard("tributary-logs", "Tributary / Logs",
                  "Log volume and recent errors, over the documents the Elasticsearch "
                  "exporter writes (its default ECS mapping).", "elasticsearch")
    d.variable("service", "Service", '{"find": "terms", "field": "service.name"}')
    svc = "service.name:${service:lucene}"
    d.row("Volume")
    d.es_timeseries("Log records by service", svc, "service.name")
    d.es_timeseries("Log records by level", svc, "log.level")
    d.es_timeseries("Log records by namespace", svc, "kubernetes.namespace",
                    description="Records from pods (the k8s_metadata processor or the SDK's "
                    "downward-API resource); empty off Kubernetes.")
    d.row("Errors")
    d.logs_table("Recent errors with their trace ids",
                 f"{svc} AND log.level:(ERROR OR FATAL OR error OR fatal)")
    return d


DASHBOARDS = {
    "tributary-pipeline.json": pipeline,
    "node.json": node,
    "services.json": services,
    "logs.json": logs,
}


def render(build):
    return json.dumps(build().json(), indent=2, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(HERE, name)
        text = render(build)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("dashboards out of date (run dashboards/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
