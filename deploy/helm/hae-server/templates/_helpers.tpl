{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "hae.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, with the chart name unless it contains it. */}}
{{- define "hae.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hae.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels (immutable in a Deployment: never add to them). */}}
{{- define "hae.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hae.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hae.labels" -}}
helm.sh/chart: {{ include "hae.chart" . }}
{{ include "hae.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hae-server
{{- end }}

{{- define "hae.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hae.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: digest wins over tag; the tag defaults to the appVersion. */}}
{{- define "hae.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: pin a version (or image.digest), not latest" }}
{{- end }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Secret holding DATABASE_URL, REDIS_URL and HAE_KEY_PEPPER. */}}
{{- define "hae.secretName" -}}
{{- default (include "hae.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/* Fails the render early, with a message, when the chart would create a Secret without its
     required values. */}}
{{- define "hae.validateSecret" -}}
{{- if not .Values.secret.existingSecret }}
{{- if not .Values.secret.databaseUrl }}
{{- fail "secret.databaseUrl is required (postgresql://USER:PASSWORD@HOST:5432/DB), or set secret.existingSecret" }}
{{- end }}
{{- if not (regexMatch "^postgres(ql)?(\\+asyncpg)?://" .Values.secret.databaseUrl) }}
{{- fail "secret.databaseUrl must be a postgresql:// URL" }}
{{- end }}
{{- if not .Values.secret.redisUrl }}
{{- fail "secret.redisUrl is required (redis://HOST:6379/0), or set secret.existingSecret" }}
{{- end }}
{{- if not (regexMatch "^rediss?://" .Values.secret.redisUrl) }}
{{- fail "secret.redisUrl must be a redis:// or rediss:// URL" }}
{{- end }}
{{- if lt (len .Values.secret.keyPepper) 32 }}
{{- fail "secret.keyPepper is required: at least 32 random characters (openssl rand -hex 32), or set secret.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment shared by every container: the ConfigMap, the Secret, extraEnv. */}}
{{- define "hae.envFrom" -}}
- configMapRef:
    name: {{ include "hae.fullname" . }}
- secretRef:
    name: {{ include "hae.secretName" . }}
{{- end }}

{{/* Pod-level settings shared by the API and the worker. */}}
{{- define "hae.podCommon" -}}
serviceAccountName: {{ include "hae.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* The writable /tmp. */}}
{{- define "hae.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end }}

{{/* Checksums that roll the pods when the configuration changes. */}}
{{- define "hae.configChecksums" -}}
checksum/config: {{ toYaml .Values.config | sha256sum }}
{{- if not .Values.secret.existingSecret }}
checksum/secret: {{ printf "%s|%s|%s" .Values.secret.databaseUrl .Values.secret.redisUrl .Values.secret.keyPepper | sha256sum }}
{{- end }}
{{- end }}
