"The speed-ups change no result: the same seed gives the same student, however the training is driven."
import pytest, torch
from ld_nbdev.data import load_digits_set, prepare, select_ipc
from ld_nbdev.models import accuracy_of, predict_logits
from ld_nbdev.labels import hard_labels
from ld_nbdev.student import StudentConfig, train_student, train_students, TrainingDiverged


@pytest.fixture(scope='module')
def digits_ipc5():
    sp = prepare(load_digits_set(), valid_frac=0.1, device='cpu')
    idx = select_ipc(sp.train, 5, seed=0)
    x, y = sp.train.x[idx], sp.train.y[idx]
    soft = torch.softmax(torch.randn(len(x), 10, generator=torch.Generator().manual_seed(0)) * 3, 1)
    return sp, x, y, soft


def test_one_fit_epoch_is_bit_identical_to_one_epoch_per_pass(digits_ipc5):
    "Several batches per pass (50 images, bs 16); nbs/06_student.ipynb checks the one-batch-per-pass case."
    sp, x, y, soft = digits_ipc5
    labels, cfg = hard_labels(y, 10), StudentConfig(epochs=24, bs=16)
    fast, ref = train_student(x, labels, cfg, seed=5), train_student(x, labels, cfg, seed=5, passes=1)
    for a, b in zip(fast.state_dict().values(), ref.state_dict().values()): assert torch.equal(a, b)
    assert accuracy_of(fast, sp.test.x, sp.test.y) == accuracy_of(ref, sp.test.x, sp.test.y)


DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU'))]


@pytest.mark.parametrize('device', DEVICES)
def test_stacked_students_match_students_trained_alone(digits_ipc5, device):
    "Stacking is the default on CUDA, so the GPU records' students rest on this (CI has no GPU: run it where there is one)."
    sp, x, y, soft = digits_ipc5
    x, labels = x.to(device), torch.stack([soft, hard_labels(y, 10), soft, hard_labels(y, 10)]).to(device)
    cfg = StudentConfig(epochs=60)
    alone = train_students(x, labels, cfg, seeds=[0, 1, 2, 3], stack=False)
    stacked = train_students(x, labels, cfg, seeds=[0, 1, 2, 3], stack=True, chunk=3)
    for a, b in zip(alone, stacked):
        assert next(b.parameters()).device.type == device
        assert torch.allclose(predict_logits(a, sp.test.x), predict_logits(b, sp.test.x), atol=1e-2)
        assert abs(accuracy_of(a, sp.test.x, sp.test.y) - accuracy_of(b, sp.test.x, sp.test.y)) <= 0.005
    # different seeds or labels give different students
    assert not torch.allclose(predict_logits(stacked[0], sp.test.x), predict_logits(stacked[2], sp.test.x))


def test_stacking_is_off_on_the_cpu_by_default(digits_ipc5, monkeypatch):
    import ld_nbdev.student as student
    sp, x, y, soft = digits_ipc5
    monkeypatch.setattr(student, 'stacked_learner', lambda *a, **k: pytest.fail('stacked on the CPU'))
    res = train_students(x, torch.stack([soft, soft]), StudentConfig(epochs=2), seeds=[0, 1])
    assert len(res) == 2 and not any(isinstance(r, TrainingDiverged) for r in res)
