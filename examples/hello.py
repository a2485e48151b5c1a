"""The seed README's example: two lambdas feed print().

Run it: ``python examples/hello.py``, or ``python -m webber run examples/hello.py``
(the ``__main__`` guard lets the command line load the flow without running it).
"""

import webber
from webber.xcoms import Promise

dag = webber.DAG()

fun_1: str = dag.add_node(lambda: "Hello")
fun_2: str = dag.add_node(lambda: "World!")
fun_3: str = dag.add_node(print, Promise(fun_1), Promise(fun_2))

dag.add_edge(fun_1, fun_3)
dag.add_edge(fun_2, fun_3)

if __name__ == "__main__":
    dag.execute()
    # 2026-11-29 14:50:15,814           print: Hello World!
