# sitga developer tasks. `just` is optional: every recipe is a plain command.

mysql := "mysql://root@127.0.0.1:3306/sitga_bench"
redis := "redis://127.0.0.1:6379"

default:
    @just --list

# Set up and serve on the embedded default (SQLite, in-process bus)
serve *args:
    scripts/dev.sh serve {{args}}

# Set up and run the whole test suite (SQLite unless DATABASE_URL is mysql://)
test *args:
    scripts/dev.sh test {{args}}

# The suite against the local MariaDB and Redis
test-mysql *args:
    mysql --protocol=tcp -h 127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS sitga_dev CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    DATABASE_URL=mysql://root@127.0.0.1:3306/sitga_dev REDIS_URL=redis://127.0.0.1:6379 JWT_SECRET=`python3 -c "import secrets; print(secrets.token_hex(32))"` scripts/dev.sh test {{args}}

# Everything CI runs
ci:
    bash .ci/run

# Format and lint like CI
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Apply pending migrations to DATABASE_URL (or the embedded database)
migrate:
    cargo run --bin sitga -- migrate

# Grant a role: just grant someone@example.com admin
grant email role:
    cargo run --bin sitga -- admin grant {{email}} {{role}}

# Regenerate docs/openapi.json from the code
openapi:
    UPDATE_SNAPSHOTS=1 cargo test -p sitga-api --test api openapi_snapshot

# End-to-end HTTP smoke test of the binary
smoke *args:
    scripts/smoke.sh {{args}}

# Benchmarks (release build): every scenario, embedded and on the local MariaDB + Redis (one and two instances)
bench:
    cargo build --release -p sitga-bench -p sitga-server --bin sitga --bin sitga-bench
    mysql --protocol=tcp -h 127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS sitga_bench"
    target/release/sitga-bench storm --bidders 200 --seconds 15 --baseline-clients 16
    target/release/sitga-bench storm --bidders 200 --seconds 15 --baseline-clients 16,64 --database-url {{mysql}}
    target/release/sitga-bench storm --bidders 200 --seconds 15 --baseline-clients 16 --database-url {{mysql}} --redis-url {{redis}} --instances 2
    target/release/sitga-bench storm --format dutch --bidders 200 --seconds 5 --rounds 3 --database-url {{mysql}} --redis-url {{redis}} --instances 2
    target/release/sitga-bench fanout --watchers 1000,5000,10000
    target/release/sitga-bench fanout --watchers 1000,5000,10000 --database-url {{mysql}} --redis-url {{redis}}
    target/release/sitga-bench fanout --watchers 1000,5000,10000 --database-url {{mysql}} --redis-url {{redis}} --instances 2
    target/release/sitga-bench rest --seconds 5
    target/release/sitga-bench rest --seconds 5 --database-url {{mysql}} --redis-url {{redis}}
    target/release/sitga-bench rest --seconds 5 --database-url {{mysql}} --redis-url {{redis}} --instances 2
    target/release/sitga-bench faults
    target/release/sitga-bench identify --seconds 10 --clients 1,2,8
    target/release/sitga-bench forecast --runs 10
