import torch
import os
os.environ["CUDA_VISIBLE_DEVICES"] = "1"
x = torch.zeros(1).cuda()
