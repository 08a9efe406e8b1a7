"""Each chapter's study: one module per chapter, all with one shape, so that a reader who has read one has read all.

* ``run(cfg, data)`` — the experiment: trains and measures, returns the raw results (cached by the chapter);
* ``statistics(raw)`` — each declared check's statistic, once per seed or independent repetition;
* ``judge(claims, stats, scale)`` — the checks' verdicts (:func:`wedges_lib.verdicts.judge`), recorded; the
  groups and headlines follow from :func:`wedges_lib.protocol.conclude`;
* ``numbers(raw)`` — the plain numbers the chapter's prose quotes, by the name they are recorded under;
* ``figures(...)`` — the chapter's own figures (figure kinds several chapters share stay in :mod:`wedges_lib.plots`).

The engines below (``train``, ``curvature``, ``surfaces``, ``connect``, ``sets``, ``align``, ``subspace``, ...) never
import a study, and studies never import each other: what two chapters share goes down a layer.
"""
