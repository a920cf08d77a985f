"""The public surface: everything exported is documented, typed stubs exist, the
version is the C library's, and the package metadata agrees."""

import inspect
import os

import pytest

import libgrid


def public_callables():
    for name in libgrid.__all__:
        obj = getattr(libgrid, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            yield name, obj
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr not in ("__getitem__", "__len__", "__reduce__",
                                                         "__contains__", "__init__"):
                    continue
                if callable(member) or isinstance(member, (property, classmethod)):
                    yield "%s.%s" % (name, attr), member
        elif callable(obj):
            yield name, obj


def test_every_public_call_has_a_docstring():
    missing = []
    for name, obj in public_callables():
        fn = obj.__func__ if isinstance(obj, classmethod) else obj
        fn = fn.fget if isinstance(fn, property) else fn
        if not (getattr(fn, "__doc__", None) or "").strip():
            missing.append(name)
    assert not missing, "undocumented: %s" % missing
    import libgrid.dask as lgd

    for name in lgd.__all__:
        assert (getattr(lgd, name).__doc__ or "").strip(), name


def test_every_public_call_has_type_hints():
    bare = []
    for name, obj in public_callables():
        fn = obj.__func__ if isinstance(obj, classmethod) else obj
        fn = fn.fget if isinstance(fn, property) else fn
        if inspect.isclass(fn) or not inspect.isfunction(fn):
            continue
        if "return" not in fn.__annotations__:
            bare.append(name)
    assert not bare, "no return annotation: %s" % bare
    pkg = os.path.dirname(libgrid.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    assert os.path.exists(os.path.join(pkg, "_libgrid.pyi"))


def test_version_is_the_c_librarys():
    assert libgrid.__version__ == libgrid.version() == "%d.%d.%d" % (0, 1, 0)
    metadata = pytest.importorskip("importlib.metadata")
    try:
        dist_version = metadata.version("libgrid")
    except metadata.PackageNotFoundError:
        pytest.skip("libgrid runs from the build tree, not an installed distribution")
    assert dist_version == libgrid.__version__
