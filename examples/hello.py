"""The seed README's example, verbatim: two lambdas feed print()."""

import webber
from webber.xcoms import Promise

dag = webber.DAG()

fun_1: str = dag.add_node(lambda: "Hello")
fun_2: str = dag.add_node(lambda: "World!")
fun_3: str = dag.add_node(print, Promise(fun_1), Promise(fun_2))

dag.add_edge(fun_1, fun_3)
dag.add_edge(fun_2, fun_3)

dag.execute()
# 2024-06-12 21:53:42,233           print: Hello
# 2024-06-12 21:53:42,248           print: World!

dag.visualize()
