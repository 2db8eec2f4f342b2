{{- define "costguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "costguard.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "costguard.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* "postgres" when a PostgreSQL URL comes from somewhere, else "sqlite". */}}
{{- define "costguard.backend" -}}
{{- if or .Values.postgresql.enabled .Values.database.url .Values.database.existingSecret -}}
postgres
{{- else -}}
sqlite
{{- end -}}
{{- end -}}

{{/* The Secret and key holding the database URL. */}}
{{- define "costguard.databaseSecret" -}}
{{- if .Values.database.existingSecret -}}
{{ .Values.database.existingSecret }}
{{- else -}}
{{ include "costguard.fullname" . }}
{{- end -}}
{{- end -}}

{{/* The bundled PostgreSQL's password: as given, else the one in the cluster, else new. The
     generated one is cached in .Values so the two Secrets that need it agree in one render. */}}
{{- define "costguard.postgresqlPassword" -}}
{{- if not .Values.postgresql.auth.password -}}
{{- $name := printf "%s-postgresql" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- $existing := (lookup "v1" "Secret" .Release.Namespace $name).data | default dict -}}
{{- $_ := set .Values.postgresql.auth "password" (get $existing "POSTGRES_PASSWORD" | b64dec | default (randAlphaNum 32)) -}}
{{- end -}}
{{- .Values.postgresql.auth.password -}}
{{- end -}}

{{- define "costguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "costguard.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}
