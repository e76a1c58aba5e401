"""The JVM options of every Spark JVM the tests start (the session's own and the subprocesses').

Tests run many short Spark jobs on cold JVMs, where compile work does not pay back:

- ``-XX:TieredStopAtLevel=1`` compiles with C1 only (it halves the test session's Spark time,
  and took the standalone-cluster test from 134 s to 71-87 s on a quiet machine).
- C1 alone reserves only 48 MB for compiled code. Two tiny trainings fill it, and the JVM then
  prints "CodeCache is full. Compiler has been disabled" and runs every method it had not
  compiled yet in the interpreter, for the rest of its life: in the test session, every later
  Spark test. 256 MB is about what the default tiered JIT reserves (240 MB); the engine tests
  (tests/engine) took 675 s before and 585 s after, on the same load.
"""

JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
