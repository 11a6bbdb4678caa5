export { ZmqKernelTransport, type ConnectionInfo, type ZmqConnectOptions } from './zmq-transport';
export { KernelProcess, startKernel, type KernelExit, type StartKernelOptions } from './kernel-process';
