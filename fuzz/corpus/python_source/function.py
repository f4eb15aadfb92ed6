def f():
    """CUDA_VISIBLE_DEVICES"""
    import torch as th
    th.cuda.init()
    os.environ.update({"CUDA_VISIBLE_DEVICES": "0"})
%env CUDA_VISIBLE_DEVICES=2
