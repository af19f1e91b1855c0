# The two commands: `make run` runs Deepwork, `make test` runs every test.
# Both install what they need first (scripts/setup.sh, idempotent).

CARGO ?= cargo

.PHONY: run test setup bench measure-idle

setup:
	@bash scripts/setup.sh

run: setup
	@echo "run: building deepwork (release)"
	@$(CARGO) build --release -q -p deepwork-cli
	@echo "run: starting the engine in the foreground (Ctrl-C stops it; a running session resumes next start)."
	@echo "run: from another terminal, use the CLI:"
	@echo "       target/release/deepwork start --for 90m        # or --until 11:30, --check-in 11:00"
	@echo "       target/release/deepwork push --source ci --from build-bot --title 'Deploy failed on main'"
	@echo "       target/release/deepwork status | checkin | digest | stop | stats"
	@./target/release/deepwork daemon

test: setup
	@echo "test: formatting"
	@$(CARGO) fmt --all --check
	@echo "test: clippy (warnings are errors)"
	@$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@echo "test: every test of the workspace"
	@$(CARGO) nextest run --workspace --locked --no-fail-fast

bench: setup
	$(CARGO) bench -p deepwork-core --bench core
	$(CARGO) bench -p deepwork-store --bench store
	$(CARGO) bench -p deepwork-cli --bench push
	$(CARGO) bench -p deepwork-engine --bench matrix

measure-idle: setup
	bash scripts/measure-idle.sh 60
