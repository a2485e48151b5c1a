"""Edge conditions in the explicit DAG style: Success, Failure, AnyCase, skip_node.

Run it: ``python examples/conditional.py``, or ``python -m webber run
examples/conditional.py`` (which runs ``build()``'s DAG and exits 1: a task failed).

A small release pipeline in which the tests fail. Each edge says when its child
runs, given its parent's final state (the table in README.md):

    edge(s)                          condition  what happens
    package -> test                  Success    test runs, and fails
    package, test -> deploy -> announce
                                     Success    both skipped (the skip spreads)
    test -> notify                   Failure    runs, and receives test's exception
    package -> page_oncall           Failure    skipped: package succeeded
    deploy -> cleanup                AnyCase    runs, although deploy was skipped
    lint -> docs                     Success    lint has skip_node(): counts as a success
    migrate -> restore               Failure    skip_node(as_failure=True): as a failure

It prints every node's final state, then the critical path of ``announce``: the
node and all its ancestors, as a new DAG (handy for re-running just that part).
"""

from __future__ import annotations

import webber
from webber import Condition, Promise


def package() -> str:
    print("packaging")
    return "app-1.0.tar.gz"


def test(artifact: str) -> None:
    raise AssertionError(f"3 tests failed for {artifact}")


def step(what: str) -> str:
    print(what)
    return what


def notify(error: BaseException) -> str:
    return step(f"tests failed: {error}")


def add_step(dag: webber.DAG, name: str, what: str) -> str:
    """A node running step(what), named ``name`` in logs and in the printout."""
    node = dag.add_node(step, what)
    dag.relabel_node(node, name)
    return node


def build() -> webber.DAG:
    """The release DAG (what ``python -m webber run examples/conditional.py`` runs)."""
    dag = webber.DAG("release")
    built = dag.add_node(package)
    tested = dag.add_node(test, Promise(built))
    deploy = add_step(dag, "deploy", "deploying")
    announce = add_step(dag, "announce", "announcing the release")
    dag.add_edge(built, deploy)
    dag.add_edge(tested, deploy)
    dag.add_edge(deploy, announce)
    dag.add_edge(tested, dag.add_node(notify, Promise(tested)), continue_on=Condition.Failure)
    dag.add_edge(built, add_step(dag, "page_oncall", "paging"), continue_on=Condition.Failure)
    dag.add_edge(deploy, add_step(dag, "cleanup", "cleaning up"), continue_on=Condition.AnyCase)

    lint = add_step(dag, "lint", "linting")
    dag.add_edge(lint, add_step(dag, "docs", "building docs"))
    dag.skip_node(lint)  # don't run it; its children see a success
    migrate = add_step(dag, "migrate", "migrating")
    dag.add_edge(migrate, add_step(dag, "restore", "restoring"), continue_on=Condition.Failure)
    dag.skip_node(migrate, as_failure=True)  # don't run it; its children see a failure
    return dag


def main() -> webber.Run:
    dag = build()
    run = dag.run()
    print(run)
    for node, state in run.states.items():
        print(f"  {dag.get_node(node).name:<12} {state}")
    (announce,) = dag.filter_nodes(lambda node: node.name == "announce")
    path = dag.critical_path(announce)
    print("critical path of announce:", " -> ".join(path.get_node(n).name for n in path.nodes))
    return run


if __name__ == "__main__":
    main()
