{{/* Names and labels shared by every object. */}}
{{- define "tributary.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: tributary
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "tributary.agent.name" -}}{{ .Release.Name }}-agent{{- end }}
{{- define "tributary.collector.name" -}}{{ .Release.Name }}-collector{{- end }}

{{- define "tributary.agent.selector" -}}
app.kubernetes.io/name: tributary-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "tributary.collector.selector" -}}
app.kubernetes.io/name: tributary-collector
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tributary.image" -}}
{{- $root := index . 0 -}}
{{ printf "%s/%s:%s" $root.Values.image.repository (index . 1) (default $root.Chart.AppVersion $root.Values.image.tag) }}
{{- end }}

{{/* The agent's configuration: the shipped file, the topology's exporter,
     then values.agent.config over them. */}}
{{- define "tributary.agent.config" -}}
{{- $config := fromYaml (.Files.Get "files/agent.yaml") -}}
{{- $exporters := dict -}}
{{- if eq .Values.topology "kafka" -}}
{{- $_ := set $exporters "kafka" (dict "brokers" .Values.kafka.brokers "producer" (dict "compression" "lz4")) -}}
{{- else -}}
{{- $endpoint := printf "%s.%s.svc:4317" (include "tributary.collector.name" .) .Release.Namespace -}}
{{- $_ := set $exporters "otlp" (dict "endpoint" $endpoint "tls" (dict "insecure" true)) -}}
{{- end -}}
{{- $_ := set $config "exporters" $exporters -}}
{{- $names := keys $exporters -}}
{{- range $signal, $pipeline := $config.service.pipelines -}}
{{- $_ := set $pipeline "exporters" $names -}}
{{- end -}}
{{- mustMergeOverwrite $config (deepCopy .Values.agent.config) | toYaml -}}
{{- end }}

{{/* The collector's configuration: the shipped file, the topology's
     receiver, then values.collector.config over them. */}}
{{- define "tributary.collector.config" -}}
{{- $config := fromYaml (.Files.Get "files/collector.yaml") -}}
{{- $receivers := dict -}}
{{- if eq .Values.topology "kafka" -}}
{{- $_ := set $receivers "kafka" (dict "brokers" .Values.kafka.brokers "group_id" .Values.kafka.groupId) -}}
{{- else -}}
{{- $_ := set $receivers "otlp" (dict "protocols" (dict "grpc" (dict "endpoint" "0.0.0.0:4317") "http" (dict "endpoint" "0.0.0.0:4318"))) -}}
{{- end -}}
{{- $_ := set $config "receivers" $receivers -}}
{{- $names := keys $receivers -}}
{{- range $signal, $pipeline := $config.service.pipelines -}}
{{- $_ := set $pipeline "receivers" (concat $names (default (list) $pipeline.receivers)) -}}
{{- end -}}
{{- mustMergeOverwrite $config (deepCopy .Values.collector.config) | toYaml -}}
{{- end }}
