{{/* The release's base name: the release name, or "<release>-pixwave". */}}
{{- define "pixwave.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pixwave.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of one role's pods; call with (dict "root" $ "role" NAME). */}}
{{- define "pixwave.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "pixwave.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "pixwave.secretName" -}}
{{- default (printf "%s-secrets" (include "pixwave.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* A queue's name as outbox/topology.py makes it: <prefix>-<queue>[.fifo]. */}}
{{- define "pixwave.queueName" -}}
{{- $name := printf "%s-%s" .root.Values.config.PIXWAVE_NAME_PREFIX .queue -}}
{{- if eq (toString .root.Values.config.PIXWAVE_FIFO | lower) "true" -}}
{{- $name = printf "%s.fifo" $name -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/*
The pod spec every role and Job shares; call with
(dict "root" $ "name" NAME "spec" ROLE-OR-JOB-VALUES "resources" RESOURCES).
Settings come from the ConfigMap, credentials one Secret key each (optional: a role
missing one it needs refuses to start and names it), then the role's own `env`.
*/}}
{{- define "pixwave.podSpec" -}}
{{- $root := .root -}}
{{- $secretName := include "pixwave.secretName" $root -}}
serviceAccountName: {{ printf "%s-%s" (include "pixwave.fullname" $root) .name }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
containers:
  - name: {{ .name }}
    image: {{ include "pixwave.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      {{- toYaml .spec.command | nindent 6 }}
    envFrom:
      - configMapRef:
          name: {{ include "pixwave.fullname" $root }}-config
    env:
      {{- range .spec.secretKeys }}
      - name: {{ . }}
        valueFrom:
          secretKeyRef:
            name: {{ $secretName }}
            key: {{ . }}
            optional: true
      {{- end }}
      {{- range $name, $value := .spec.env }}
      - name: {{ $name }}
        value: {{ $value | toString | quote }}
      {{- end }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
{{- end -}}
