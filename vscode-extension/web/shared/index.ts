export { WebviewMessenger, type HostChannel } from './messenger';
export { checkValue, type ValidatedSchema } from './validate';
