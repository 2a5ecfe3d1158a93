#!/bin/sh
# Run once by the mariadb image, on an empty data directory (mounted as /docker-entrypoint-initdb.d): the SQL
# below creates a database and a user per service, each user with rights on its own database only. The passwords
# come from .env (DB_PASSWORD_<SERVICE>); a missing one stops the initialisation.
set -eu

sql=""
for service in identity intake workflow risk notify reporting; do
    variable="DB_PASSWORD_$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')"
    eval "password=\${$variable:?$variable is not set (see .env.example)}"
    case "$password" in
        *\'* | *\\*) echo "$variable must not contain quotes or backslashes" >&2; exit 1 ;;
    esac
    sql="$sql
CREATE DATABASE IF NOT EXISTS \`loanbridge_$service\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$service'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`loanbridge_$service\`.* TO '$service'@'%';"
done

printf '%s\nFLUSH PRIVILEGES;\n' "$sql" | mariadb --protocol=socket -uroot -p"${MARIADB_ROOT_PASSWORD}"
